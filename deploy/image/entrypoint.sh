#!/bin/sh
# The image's entry: one image, one service per container, named by the first
# argument. node runs the build directly (no npm in between), so SIGTERM reaches
# the service and starts its drain.
set -e
cd "$(dirname "$0")/../.."
service=${1:-}
[ $# -gt 0 ] && shift
# Loaded before the service: starts tracing when OTEL_* settings ask for it (docs/tracing.md).
tracing="--import @memegraph/service-kit/tracing-preload"
# The router's heap settings (router/src/heap.ts says why), each unless NODE_OPTIONS names it.
router_heap=""
case "${NODE_OPTIONS:-}" in *max-old-space-size*) ;; *) router_heap="--max-old-space-size=512" ;; esac
case "${NODE_OPTIONS:-}" in *max-semi-space-size*) ;; *) router_heap="$router_heap --max-semi-space-size=32" ;; esac
case "$service" in
  router) exec node --enable-source-maps $router_heap $tracing router/dist/main.js "$@" ;;
  users) exec node --enable-source-maps $tracing subgraphs/users/dist/main.js "$@" ;;
  memes) exec node --enable-source-maps $tracing subgraphs/memes/dist/main.js "$@" ;;
  ai) exec node --enable-source-maps $tracing subgraphs/ai/dist/main.js "$@" ;;
  ai-worker) exec node --enable-source-maps $tracing subgraphs/ai/dist/worker-main.js "$@" ;;
  migrate) exec node --enable-source-maps scripts/dist/migrate.js "$@" ;;
  *)
    echo "usage: <image> router|users|memes|ai|ai-worker|migrate" >&2
    exit 64
    ;;
esac
