import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { FileResponder, IMMUTABLE, PAGE_HEADERS, REVALIDATE, resolveUnder } from './files';
import { prefersHtml } from './explorer';

/** Vite names built files `name-<hash>.ext` under `assets/`: their URL changes whenever their content does. */
const HASHED_ASSET = /^assets\/(?:.+\/)?[^/]+-[\w-]{8,}\.[a-z0-9]+$/i;

/**
 * The gallery web app, served from its build folder at `/`: files as they
 * are, `index.html` for any other page a browser asks for (the app routes
 * on the client), and without a build a small page pointing at the
 * explorer and the status.
 */
export function createGallery(options: { dir?: string; introspection: boolean }) {
  const root = options.dir ? path.resolve(options.dir) : undefined;
  const files = new FileResponder();
  const fallback = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Memegraph</title><link rel="icon" href="data:,"></head>
<body>
<h1>Memegraph</h1>
<p>The memes API is at <code>/graphql</code>. The gallery app is not built here (<code>npm run build -w @memegraph/gallery</code>).</p>
<ul>
${options.introspection ? '<li><a href="/graphql">Explorer</a>: run operations and read the schema</li>\n' : ''}<li><a href="/status">Status</a>: the router's traffic, caches and dependencies</li>
</ul>
</body>
</html>
`;
  return {
    root,
    /** Answers GET and HEAD under `/`; false when there is nothing to send (the caller answers 404). */
    async send(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      const index = root && path.join(root, 'index.html');
      if (!index || !existsSync(index)) {
        if (url.pathname !== '/') return false;
        await files.sendDocument(req, res, 'fallback', fallback, {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': REVALIDATE,
          ...PAGE_HEADERS,
        });
        return true;
      }
      const file = url.pathname === '/' ? null : await resolveUnder(root, url.pathname);
      if (file) {
        const relative = path.relative(root, file).split(path.sep).join('/');
        const page = relative.endsWith('.html');
        const headers = {
          'cache-control': HASHED_ASSET.test(relative) ? IMMUTABLE : REVALIDATE,
          ...(page ? PAGE_HEADERS : {}),
        };
        if (await files.sendFile(req, res, file, headers)) return true;
      }
      // A file that is not there stays a 404; a page is the app's to route.
      if (url.pathname !== '/' && (path.extname(url.pathname) !== '' || !prefersHtml(req.headers.accept))) return false;
      return files.sendFile(req, res, index, { 'cache-control': REVALIDATE, ...PAGE_HEADERS });
    },
  };
}
