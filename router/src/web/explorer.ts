import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileResponder, IMMUTABLE, PAGE_HEADERS, REVALIDATE } from './files';
import { escapeHtml, jsonForScript } from './html';

const require = createRequire(import.meta.url);
const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));

/**
 * GraphiQL's browser bundle and the React it runs on, from node_modules:
 * the router serves them itself, so the explorer works offline and behind
 * networks that block CDNs. URLs carry each package's version, which makes
 * the files safe to cache forever.
 */
const VENDOR = [
  { pkg: 'react', file: 'umd/react.production.min.js' },
  { pkg: 'react-dom', file: 'umd/react-dom.production.min.js' },
  { pkg: 'graphiql', file: 'graphiql.min.js' },
  { pkg: 'graphiql', file: 'graphiql.min.css' },
] as const;

function vendorFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const { pkg, file } of VENDOR) {
    const manifest = require.resolve(`${pkg}/package.json`);
    const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
    files.set(`/explorer/vendor/${pkg}@${version}/${file}`, path.join(path.dirname(manifest), file));
  }
  return files;
}

/** Example operations the explorer opens with, one tab each: real operations of the Memegraph schema. */
const EXAMPLE_OPERATIONS = [
  {
    // Short lines: on a phone the editor is about 24 characters wide.
    query: `# Welcome to Memegraph!
# ▶ or Ctrl-Enter runs it.
# Docs (the book, left):
# every field, who may
# ask for it, its cost.
# An API key above runs
# it as you.

query TrendingMemes {
  trending(first: 5) {
    id
    title
    score
    author { handle }
    template { name }
  }
}
`,
  },
  {
    query: `query SearchMemes($text: String!) {
  search(text: $text, first: 5) {
    id
    title
    topText
    bottomText
    tags
  }
}
`,
    variables: '{ "text": "cat" }',
  },
  {
    query: `query Me {
  me {
    handle
    tier
    apiKeys { prefix lastUsedAt }
  }
  rateLimit(dryRun: true) { limit remaining cost resetAt }
}
`,
  },
  {
    query: `query Templates {
  templates { id name }
  plans { tier name monthlyPriceCents }
}
`,
  },
];

/** The router's GraphiQL explorer: its page, its own script, and the vendored bundle. */
export function createExplorer(options: { endpoint: string }) {
  const vendor = vendorFiles();
  const urls = [...vendor.keys()];
  const script = (name: string) => urls.find((u) => u.endsWith(name))!;
  const own = new Map([
    ['/explorer/explorer.js', path.join(PUBLIC_DIR, 'explorer.js')],
    ['/explorer/explorer.css', path.join(PUBLIC_DIR, 'explorer.css')],
  ]);
  const config = { endpoint: options.endpoint, examples: EXAMPLE_OPERATIONS };
  const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Memegraph explorer</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${escapeHtml(script('graphiql.min.css'))}">
<link rel="stylesheet" href="/explorer/explorer.css">
</head>
<body>
<header class="mg-bar">
  <strong class="mg-title">Memegraph explorer</strong>
  <label class="mg-key">API key <input id="api-key" type="password" autocomplete="off" spellcheck="false" placeholder="mg_… (sent as x-api-key)"></label>
  <nav class="mg-links"><a href="/">Gallery</a> <a href="/status">Status</a> <a href="/schema.graphql">SDL</a></nav>
</header>
<main id="graphiql" class="mg-graphiql">Loading the explorer…</main>
<script type="application/json" id="explorer-config">${jsonForScript(config)}</script>
<script src="${escapeHtml(script('react.production.min.js'))}"></script>
<script src="${escapeHtml(script('react-dom.production.min.js'))}"></script>
<script src="${escapeHtml(script('graphiql.min.js'))}"></script>
<script src="/explorer/explorer.js"></script>
</body>
</html>
`;
  const files = new FileResponder();
  return {
    /** A browser asking for `/graphql` with no operation: show it the explorer. */
    wants(req: IncomingMessage, url: URL): boolean {
      return (
        (req.method === 'GET' || req.method === 'HEAD') &&
        !url.searchParams.has('query') &&
        !url.searchParams.has('extensions') &&
        prefersHtml(req.headers.accept)
      );
    },
    async sendPage(req: IncomingMessage, res: ServerResponse): Promise<void> {
      await files.sendDocument(req, res, 'explorer', page, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': REVALIDATE,
        vary: 'accept',
        ...PAGE_HEADERS,
      });
    },
    /** `/explorer/…` files; false when the path is not one. */
    async sendAsset(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> {
      const vendored = vendor.get(pathname);
      if (vendored) return files.sendFile(req, res, vendored, { 'cache-control': IMMUTABLE });
      const file = own.get(pathname);
      if (file) return files.sendFile(req, res, file, { 'cache-control': REVALIDATE });
      return false;
    },
  };
}

/** True when the Accept header ranks text/html above JSON, as a browser's navigation does. */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  let html = 0;
  let json = 0;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.trim().toLowerCase().split(';');
    const q = Number(
      params
        .map((p) => p.trim())
        .find((p) => p.startsWith('q='))
        ?.slice(2) ?? 1,
    );
    if (type === 'text/html') html = Math.max(html, q);
    if (type === 'application/json' || type === 'application/graphql-response+json') json = Math.max(json, q);
  }
  return html > 0 && html > json;
}
