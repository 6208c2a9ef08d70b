#!/usr/bin/env bash
# What the image's build stage runs, and what CI runs where no Docker daemon is
# (scripts/verify-production.sh): from a clean copy of the repository in SRC,
# install from the lockfile, build, reinstall without development dependencies
# (keeping the build), and copy what runs in production into OUT, laid out as
# in the repository: built JavaScript, package manifests, runtime dependencies,
# and the files the services read (migrations, schemas, supergraph, gallery).
#
# Usage: deploy/image/build.sh SRC OUT
set -euo pipefail
src=$(cd "${1:?usage: build.sh SRC OUT}" && pwd)
out=${2:?usage: build.sh SRC OUT}
cd "$src"

# The workspaces that run in production (not the gallery's sources, whose build is copied, nor the tests).
runtime=(service-kit subgraphs/users subgraphs/memes subgraphs/ai router schema)

npm ci --no-audit --no-fund
# A NODE_ENV of development in the caller's shell would make Vite bundle React's development build.
NODE_ENV=production npm run build
npm ci --omit=dev --no-audit --no-fund "${runtime[@]/#/--workspace=}"

# A production install has no TypeScript tooling: what runs is the build.
for tool in tsx typescript esbuild turbo vitest vite; do
  if [ -e "node_modules/$tool" ]; then
    echo "build.sh: $tool is still installed after npm ci --omit=dev" >&2
    exit 1
  fi
done

mkdir -p "$out"
out=$(cd "$out" && pwd)
# Relative paths, so that node_modules' workspace links (node_modules/@memegraph/router -> ../../router) hold in OUT.
paths=(
  package.json
  node_modules
  scripts/dist
  deploy/image/entrypoint.sh
  deploy/image/healthcheck.mjs
  schema/supergraph.graphql
  gallery/package.json
  gallery/dist
  gallery/persisted-query-manifest.json
)
for pkg in "${runtime[@]}"; do
  paths+=("$pkg/package.json" "$pkg/dist")
  [ -d "$pkg/node_modules" ] && paths+=("$pkg/node_modules")
  [ -d "$pkg/migrations" ] && paths+=("$pkg/migrations")
  [ -f "$pkg/schema.graphql" ] && paths+=("$pkg/schema.graphql")
done
tar -cf - "${paths[@]}" | tar -xf - -C "$out"
echo "build.sh: production files in $out ($(du -sh "$out" | cut -f1))"
