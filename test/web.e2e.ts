import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql } from './support/client';
import { signUp } from './support/accounts';
import { GENEROUS_ANONYMOUS, startStack, type Stack } from './support/stack';
import { startFakeProvider, type FakeProvider } from './support/fakeProvider';

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const MANIFEST = path.resolve(import.meta.dirname, '../gallery/persisted-query-manifest.json');
/** Where the router's own dependencies are installed. */
const fromRouter = createRequire(path.resolve(import.meta.dirname, '../router/package.json'));
const packageFile = (pkg: string, file: string) =>
  readFileSync(path.join(path.dirname(fromRouter.resolve(`${pkg}/package.json`)), file));

/** A raw GET, so paths reach the router exactly as written (fetch would resolve `..`) and bodies as sent. */
function rawGetBytes(
  base: string,
  rawPath: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path: rawPath, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

const rawGet = async (base: string, rawPath: string) => {
  const response = await rawGetBytes(base, rawPath);
  return { ...response, body: response.body.toString('utf8') };
};

describe('the router in the browser: explorer, status, gallery (HTTP)', () => {
  let stack: Stack;
  let fake: FakeProvider;
  let galleryDir: string;
  let outside: string;

  beforeAll(async () => {
    fake = await startFakeProvider({ keys: 3, latencyMs: 2 });
    galleryDir = mkdtempSync(path.join(tmpdir(), 'memegraph-gallery-'));
    outside = mkdtempSync(path.join(tmpdir(), 'memegraph-outside-'));
    writeFileSync(path.join(outside, 'secret.txt'), 'not for the web');
    mkdirSync(path.join(galleryDir, 'assets'));
    writeFileSync(
      path.join(galleryDir, 'index.html'),
      '<!doctype html><title>Gallery</title><div id="root"></div><script type="module" src="/assets/index-AbC123xY.js"></script>',
    );
    writeFileSync(path.join(galleryDir, 'assets', 'index-AbC123xY.js'), 'console.log("gallery");'.repeat(100));
    writeFileSync(path.join(galleryDir, 'robots.txt'), 'User-agent: *\n');
    writeFileSync(path.join(galleryDir, '.env'), 'SECRET=1');
    symlinkSync(path.join(outside, 'secret.txt'), path.join(galleryDir, 'linked.txt'));
    stack = await startStack({
      routerEnv: { TIERS_JSON: GENEROUS_ANONYMOUS, GALLERY_DIR: galleryDir, STATUS_SAMPLE_MS: '200' },
      ai: {
        providerEnv: {
          AI_PROVIDERS: JSON.stringify([
            { name: 'openai', kind: 'openai', baseUrl: fake.url, model: 'fake-model', keys: fake.keys },
          ]),
        },
      },
    });
  });

  afterAll(async () => {
    await stack?.close();
    await fake?.close();
    rmSync(galleryDir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  describe('explorer', () => {
    it('opens for a browser asking for /graphql, from the router’s own files, under a self-only CSP', async () => {
      const response = await fetch(`${stack.routerUrl}/graphql`, { headers: { accept: BROWSER_ACCEPT } });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      const csp = response.headers.get('content-security-policy')!;
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("connect-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toMatch(/https?:/);
      const html = await response.text();
      expect(html).toContain('<title>Memegraph explorer</title>');
      expect(html).toContain('id="api-key"');
      const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
      expect(sources).toEqual(
        expect.arrayContaining([
          '/explorer/vendor/graphiql@3.8.3/graphiql.min.js',
          '/explorer/vendor/react@18.3.1/umd/react.production.min.js',
        ]),
      );
      // Every script and style is the router's own (the icon is an inline empty one).
      for (const source of sources) expect(source.startsWith('/') || source === 'data:,', source).toBe(true);
    });

    it('serves GraphiQL and React as in their npm packages, typed, gzipped, cached for good by version', async () => {
      const files = [
        [
          '/explorer/vendor/graphiql@3.8.3/graphiql.min.js',
          'graphiql',
          'graphiql.min.js',
          'text/javascript; charset=utf-8',
        ],
        ['/explorer/vendor/graphiql@3.8.3/graphiql.min.css', 'graphiql', 'graphiql.min.css', 'text/css; charset=utf-8'],
        [
          '/explorer/vendor/react@18.3.1/umd/react.production.min.js',
          'react',
          'umd/react.production.min.js',
          'text/javascript; charset=utf-8',
        ],
        [
          '/explorer/vendor/react-dom@18.3.1/umd/react-dom.production.min.js',
          'react-dom',
          'umd/react-dom.production.min.js',
          'text/javascript; charset=utf-8',
        ],
      ] as const;
      for (const [url, pkg, file, type] of files) {
        const onDisk = packageFile(pkg, file);
        const plain = await fetch(`${stack.routerUrl}${url}`, { headers: { 'accept-encoding': 'identity' } });
        expect(plain.status, url).toBe(200);
        expect(plain.headers.get('content-type')).toBe(type);
        expect(plain.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
        expect(plain.headers.get('x-content-type-options')).toBe('nosniff');
        expect(Buffer.from(await plain.arrayBuffer()).equals(onDisk)).toBe(true);
        const zipped = await rawGetBytes(stack.routerUrl, url, { 'accept-encoding': 'gzip' });
        expect(zipped.headers['content-encoding']).toBe('gzip');
        expect(gunzipSync(zipped.body).equals(onDisk)).toBe(true);
        const etag = plain.headers.get('etag')!;
        const again = await fetch(`${stack.routerUrl}${url}`, { headers: { 'if-none-match': etag } });
        expect(again.status).toBe(304);
      }
      expect((await fetch(`${stack.routerUrl}/explorer/vendor/graphiql@3.8.3/package.json`)).status).toBe(404);
      expect((await fetch(`${stack.routerUrl}/explorer/vendor/graphiql@0.0.1/graphiql.min.js`)).status).toBe(404);
    });

    it('keeps GraphQL over GET and POST as it was: queries, CSRF prevention, JSON errors', async () => {
      const query = encodeURIComponent('{ trending(first: 1) { id } }');
      const withQuery = await fetch(`${stack.routerUrl}/graphql?query=${query}`, {
        headers: { accept: BROWSER_ACCEPT, 'apollo-require-preflight': 'true' },
      });
      expect(withQuery.status).toBe(200);
      expect(withQuery.headers.get('content-type')).toContain('application/json');
      expect(((await withQuery.json()) as { data: { trending: unknown[] } }).data.trending).toHaveLength(1);
      // A simple (CSRF-able) GET with a query is still refused.
      const simple = await fetch(`${stack.routerUrl}/graphql?query=${query}`, { headers: { accept: BROWSER_ACCEPT } });
      expect(simple.status).toBe(400);
      expect(await simple.text()).toContain('CSRF');
      // A client asking for JSON with no query gets GraphQL's answer, not a page.
      const noQuery = await fetch(`${stack.routerUrl}/graphql`, {
        headers: { accept: 'application/json', 'apollo-require-preflight': 'true' },
      });
      expect(noQuery.status).toBe(400);
      expect(noQuery.headers.get('content-type')).toContain('application/json');
      const post = await gql(`${stack.routerUrl}/graphql`, '{ __typename }');
      expect(post.body.data).toEqual({ __typename: 'Query' });
    });

    it('opens with example operations that run against the schema', async () => {
      const html = await (await fetch(`${stack.routerUrl}/graphql`, { headers: { accept: BROWSER_ACCEPT } })).text();
      const config = JSON.parse(
        /<script type="application\/json" id="explorer-config">([^<]*)<\/script>/.exec(html)![1]!,
      ) as {
        endpoint: string;
        examples: { query: string; variables?: string }[];
      };
      expect(config.endpoint).toBe('/graphql');
      expect(config.examples.length).toBeGreaterThanOrEqual(3);
      for (const example of config.examples) {
        const variables = example.variables ? (JSON.parse(example.variables) as Record<string, unknown>) : {};
        const result = await gql(`${stack.routerUrl}/graphql`, example.query, variables);
        expect(result.body.errors, example.query).toBeUndefined();
        expect(result.status).toBe(200);
      }
    });

    it('is off, with its files, when introspection is off: the request is answered as GraphQL', async () => {
      const closed = await stack.addRouter({ INTROSPECTION: 'false' });
      const page = await fetch(`${closed}/graphql`, { headers: { accept: BROWSER_ACCEPT } });
      expect(page.status).toBe(400);
      expect(page.headers.get('content-type')).toContain('application/json');
      const body = (await page.json()) as { errors: { extensions: { code: string } }[] };
      expect(body.errors[0]!.extensions.code).toBe('BAD_REQUEST');
      expect((await fetch(`${closed}/explorer/vendor/graphiql@3.8.3/graphiql.min.js`)).status).toBe(404);
      expect((await fetch(`${closed}/explorer/explorer.js`)).status).toBe(404);
      // Apollo's own landing page (loaded from a CDN) does not come back either.
      expect(
        await (await fetch(`${stack.routerUrl}/graphql`, { headers: { accept: BROWSER_ACCEPT } })).text(),
      ).not.toContain('apollographql.com');
    });
  });

  describe('status', () => {
    type Report = {
      sampleMs: number;
      samples: {
        requestsPerSecond: number;
        p50Ms: number | null;
        p99Ms: number | null;
        cacheHitRatio: { local: number | null; redis: number | null };
        rejectionsPerSecond: Record<string, number>;
      }[];
      subgraphs: { name: string; ready: string; breaker: string }[];
      redis: string;
      ai: { state: string; keys?: { provider: string; key: string; breaker: string }[]; waiting?: number };
    };
    const report = async (url = stack.routerUrl, headers: Record<string, string> = {}) => {
      const response = await fetch(`${url}/status.json`, { headers });
      return {
        status: response.status,
        headers: response.headers,
        body: (await response.json()) as Report & { errors?: { extensions: { code: string } }[] },
      };
    };

    it('reports traffic, latency, cache hits by layer and rejections by reason from the router’s own counters', async () => {
      const trending = '{ trending(first: 3) { id title } }';
      for (let i = 0; i < 30; i++) await gql(`${stack.routerUrl}/graphql`, trending);
      // Samples come every 200 ms and the traffic spans several; the first request is a miss, the
      // rest are hits from the router's own layer: wait for a sample that saw mostly hits.
      const mostlyHits = (r: Report) =>
        r.samples.some((s) => s.requestsPerSecond > 0 && (s.cacheHitRatio.local ?? 0) > 0.5);
      await expect.poll(async () => mostlyHits((await report()).body), { timeout: 10_000, interval: 100 }).toBe(true);
      const { body, headers } = await report();
      expect(headers.get('cache-control')).toBe('no-store');
      const busy = body.samples.filter((s) => s.requestsPerSecond > 0);
      expect(busy.every((s) => s.p50Ms! > 0 && s.p99Ms! >= s.p50Ms!)).toBe(true);
      expect(body.subgraphs).toEqual([
        { name: 'ai', ready: 'ok', breaker: 'closed' },
        { name: 'memes', ready: 'ok', breaker: 'closed' },
        { name: 'users', ready: 'ok', breaker: 'closed' },
      ]);
      expect(body.redis).toBe('ok');
    });

    it('counts rejections by reason', async () => {
      const tight = await stack.addRouter({
        STATUS_SAMPLE_MS: '200',
        TIERS_JSON: JSON.stringify({ anonymous: { requestsPerMinute: 2 } }),
      });
      for (let i = 0; i < 6; i++) await gql(`${tight}/graphql`, '{ __typename }');
      await expect
        .poll(
          async () =>
            (await report(tight)).body.samples.some((s) => (s.rejectionsPerSecond.RATE_LIMIT_EXCEEDED ?? 0) > 0),
          { timeout: 10_000, interval: 100 },
        )
        .toBe(true);
    });

    it('shows the AI queue and every provider key by fingerprint, never the key', async () => {
      const response = await fetch(`${stack.routerUrl}/status.json`);
      const text = await response.text();
      const body = JSON.parse(text) as Report;
      expect(body.ai.state).toBe('ok');
      expect(body.ai.waiting).toBe(0);
      expect(body.ai.keys).toHaveLength(3);
      expect(body.ai.keys!.every((k) => k.breaker === 'CLOSED' && k.provider === 'openai')).toBe(true);
      for (const key of fake.keys) expect(text).not.toContain(key);
    });

    it('tells when subgraphs are down, with their breakers, and that the AI queue cannot be read', async () => {
      const lonely = await startStack({
        routerEnv: { STATUS_SAMPLE_MS: '200', SUBGRAPH_BREAKER_THRESHOLD: '1', TIERS_JSON: GENEROUS_ANONYMOUS },
      });
      try {
        await lonely.stopSubgraph('memes');
        await lonely.stopSubgraph('ai');
        const failed = await gql(`${lonely.routerUrl}/graphql`, '{ trending(first: 1) { id } }');
        expect(failed.body.errors![0]!.extensions!.code).toBe('DOWNSTREAM_SERVICE_ERROR');
        const { body } = await report(lonely.routerUrl);
        expect(body.subgraphs).toEqual([
          { name: 'ai', ready: 'unavailable', breaker: 'closed' },
          { name: 'memes', ready: 'unavailable', breaker: 'open' },
          { name: 'users', ready: 'ok', breaker: 'closed' },
        ]);
        expect(body.ai.state).toBe('unavailable');
      } finally {
        await lonely.close();
      }
    });

    it('is open to loopback and, past a trusted proxy, only to admins', async () => {
      const remote = { 'x-forwarded-for': '203.0.113.7' };
      // Without TRUST_PROXY the header is the client's word, and ignored: this caller is on loopback.
      expect((await report(stack.routerUrl, remote)).status).toBe(200);

      const proxied = await stack.addRouter({ TRUST_PROXY: '127.0.0.1,::1' });
      const anonymous = await report(proxied, remote);
      expect(anonymous.status).toBe(401);
      expect(anonymous.body.errors![0]!.extensions.code).toBe('UNAUTHENTICATED');
      expect(anonymous.body).not.toHaveProperty('samples');
      // A client cannot pass for loopback by writing the header itself: the proxy appends the real address.
      expect((await report(proxied, { 'x-forwarded-for': '127.0.0.1, 203.0.113.7' })).status).toBe(401);

      const user = await signUp(stack.routerUrl, 'status_viewer');
      const keyOf = async (token: string) =>
        (
          await gql<{ createApiKey: { secret: string } }>(
            `${stack.routerUrl}/graphql`,
            'mutation { createApiKey(name: "status") { secret } }',
            {},
            { authorization: `Bearer ${token}` },
          )
        ).body.data!.createApiKey.secret;
      const userKey = await keyOf(user.token);
      const forbidden = await report(proxied, { ...remote, 'x-api-key': userKey });
      expect(forbidden.status).toBe(403);
      expect(forbidden.body.errors![0]!.extensions.code).toBe('FORBIDDEN');
      const badKey = await report(proxied, { ...remote, 'x-api-key': 'mg_not_a_real_key' });
      expect(badKey.status).toBe(401);

      const admin = await signUp(stack.routerUrl, 'status_admin');
      await stack.dbs.users.query(`UPDATE users SET is_admin = true WHERE id = $1`, [admin.id]);
      const adminKey = await keyOf(admin.token);
      const allowed = await report(proxied, { ...remote, 'x-api-key': adminKey });
      expect(allowed.status).toBe(200);
      expect(allowed.body.subgraphs.map((s) => s.name)).toEqual(['ai', 'memes', 'users']);
      // Loopback itself, through the proxy, needs no credential.
      expect((await report(proxied)).status).toBe(200);
    });

    it('serves its page as a shell with no data in it', async () => {
      const response = await fetch(`${stack.routerUrl}/status`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
      const html = await response.text();
      expect(html).toContain('src="/status/status.js"');
      expect(html).not.toContain('requestsPerSecond');
      const script = await fetch(`${stack.routerUrl}/status/status.js`);
      expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(script.headers.get('cache-control')).toBe('no-cache');
    });
  });

  describe('gallery', () => {
    it('serves the built app at / with its hashed assets cached for good and its page revalidated', async () => {
      const index = await fetch(`${stack.routerUrl}/`, { headers: { accept: BROWSER_ACCEPT } });
      expect(index.status).toBe(200);
      expect(index.headers.get('cache-control')).toBe('no-cache');
      expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(await index.text()).toContain('<title>Gallery</title>');
      const asset = await fetch(`${stack.routerUrl}/assets/index-AbC123xY.js`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      const robots = await fetch(`${stack.routerUrl}/robots.txt`);
      expect(robots.headers.get('cache-control')).toBe('no-cache');
      expect(await robots.text()).toBe('User-agent: *\n');
    });

    it('answers the app’s own routes with its page, and missing files with 404', async () => {
      const route = await fetch(`${stack.routerUrl}/memes/42`, { headers: { accept: BROWSER_ACCEPT } });
      expect(route.status).toBe(200);
      expect(await route.text()).toContain('<title>Gallery</title>');
      expect((await fetch(`${stack.routerUrl}/assets/index-missing1.js`)).status).toBe(404);
      expect((await fetch(`${stack.routerUrl}/memes/42`, { headers: { accept: 'application/json' } })).status).toBe(
        404,
      );
      const post = await fetch(`${stack.routerUrl}/`, { method: 'POST' });
      expect(post.status).toBe(404);
    });

    it('never serves a file from outside its folder', async () => {
      const secret = readFileSync(path.join(outside, 'secret.txt'), 'utf8');
      const escapes = [
        `/../${path.basename(outside)}/secret.txt`,
        `/..%2f${path.basename(outside)}%2fsecret.txt`,
        `/%2e%2e/%2e%2e/%2e%2e/etc/passwd`,
        `/assets/..%2f..%2f..%2fetc%2fpasswd`,
        '/..\\..\\etc\\passwd',
        '/%5c..%5c..%5cetc%5cpasswd',
        '/linked.txt',
        '/.env',
        '/index.html%00.js',
        '/%E0%A4%A',
      ];
      for (const escape of escapes) {
        const response = await rawGet(stack.routerUrl, escape);
        expect(response.body, escape).not.toContain(secret);
        expect(response.body, escape).not.toContain('root:');
        expect(response.body, escape).not.toContain('SECRET=1');
        expect(response.status, escape).toBe(404);
      }
    });

    it('without a build, / links to the explorer and the status page', async () => {
      const bare = await stack.addRouter({ GALLERY_DIR: path.join(galleryDir, 'not-built') });
      const response = await fetch(`${bare}/`, { headers: { accept: BROWSER_ACCEPT } });
      expect(response.status).toBe(200);
      const html = await response.text();
      expect(html).toContain('href="/graphql"');
      expect(html).toContain('href="/status"');
      expect((await fetch(`${bare}/memes/42`, { headers: { accept: BROWSER_ACCEPT } })).status).toBe(404);
    });
  });

  describe('trusted documents for the gallery', () => {
    type Manifest = { operations: { id: string; name: string; type: string; body: string }[] };
    const manifest = JSON.parse(readFileSync(MANIFEST, 'utf8')) as Manifest;
    const gallery = { 'apollographql-client-name': 'memegraph-gallery' };

    it('holds requests from the gallery to its manifest, while other clients keep their tier’s mode', async () => {
      const url = `${await stack.addRouter({ TRUSTED_DOCUMENTS_MANIFEST: MANIFEST, TRUSTED_DOCUMENTS_MODE_BY_CLIENT: '{"memegraph-gallery":"enforce"}' })}/graphql`;
      const listed = manifest.operations.find((op) => op.type === 'query' && !/\$\w+\s*:\s*[\w[\]]+!/.test(op.body))!;
      expect(createHash('sha256').update(listed.body).digest('hex')).toBe(listed.id);

      const text = await gql(url, listed.body, {}, gallery);
      expect(text.status).toBe(400);
      expect(text.body.errors![0]!.extensions!.code).toBe('PERSISTED_QUERY_NOT_IN_LIST');

      const byId = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...gallery },
        body: JSON.stringify({
          operationName: listed.name,
          extensions: { persistedQuery: { version: 1, sha256Hash: listed.id } },
        }),
      });
      const ran = (await byId.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
      expect(byId.status).toBe(200);
      expect(ran.errors).toBeUndefined();
      expect(ran.data).toBeTruthy();

      // Anyone else (the tier mode is off) may still send text.
      const other = await gql(url, '{ trending(first: 1) { id } }');
      expect(other.body.errors).toBeUndefined();
    });

    it('lets a client name tighten the mode, never loosen it', async () => {
      const url = `${await stack.addRouter({
        TRUSTED_DOCUMENTS_MANIFEST: MANIFEST,
        TRUSTED_DOCUMENTS_MODE: 'enforce',
        TRUSTED_DOCUMENTS_MODE_BY_CLIENT: '{"memegraph-gallery":"enforce","lenient":"off"}',
      })}/graphql`;
      const response = await gql(url, '{ trending(first: 1) { id } }', {}, { 'apollographql-client-name': 'lenient' });
      expect(response.body.errors![0]!.extensions!.code).toBe('PERSISTED_QUERY_NOT_IN_LIST');
    });
  });
});
