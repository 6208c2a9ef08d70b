import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createMemesServer } from '@memegraph/memes';
import { createLogger, type SubgraphServer } from '@memegraph/service-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENEROUS_ANONYMOUS, startStack, type Stack } from './support/stack';

let stack: Stack;
const token = randomBytes(24).toString('hex');

beforeAll(async () => {
  stack = await startStack({ users: 2, memes: 5 });
});
afterAll(() => stack?.close());

async function metrics(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${url}/metrics`, { headers });
  const text = await response.text();
  let code: string | undefined;
  try {
    code = (JSON.parse(text) as { errors?: { extensions?: { code?: string } }[] }).errors?.[0]?.extensions?.code;
  } catch {
    code = undefined;
  }
  return {
    status: response.status,
    code,
    text,
    contentType: response.headers.get('content-type'),
    authenticate: response.headers.get('www-authenticate'),
  };
}

describe('/metrics of the router answers operators only', () => {
  it('answers a loopback client', async () => {
    const answer = await metrics(stack.routerUrl);
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('graphql_request_duration_seconds');
  });

  it('behind a trusted proxy, the forwarded address decides: a client elsewhere is refused with a coded 403', async () => {
    const router = await stack.addRouter({ TRUST_PROXY: 'loopback' });
    for (const forwarded of ['203.0.113.9', '203.0.113.9:5555', '[2001:db8::9]:443', '127.0.0.1, 203.0.113.9']) {
      const answer = await metrics(router, { 'x-forwarded-for': forwarded });
      expect(answer, forwarded).toMatchObject({
        status: 403,
        code: 'FORBIDDEN',
        contentType: 'application/json; charset=utf-8',
      });
      expect(answer.text, forwarded).not.toContain('graphql_request_duration_seconds');
    }
    // The proxy says the client is on loopback itself.
    expect((await metrics(router, { 'x-forwarded-for': '127.0.0.1' })).status).toBe(200);
  });

  it('with METRICS_TOKEN, a client elsewhere is let in by the token only (401 otherwise)', async () => {
    const router = await stack.addRouter({ TRUST_PROXY: 'loopback', METRICS_TOKEN: token });
    const elsewhere = { 'x-forwarded-for': '198.51.100.20' };
    for (const authorization of [undefined, 'Bearer wrong', `Bearer ${token}x`, `Basic ${token}`, token]) {
      const answer = await metrics(router, { ...elsewhere, ...(authorization ? { authorization } : {}) });
      expect(answer, authorization).toMatchObject({ status: 401, code: 'UNAUTHENTICATED', authenticate: 'Bearer' });
    }
    const answer = await metrics(router, { ...elsewhere, authorization: `Bearer ${token}` });
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('graphql_request_duration_seconds');
  });

  it('a token shorter than 32 characters is refused at start', async () => {
    await expect(stack.addRouter({ METRICS_TOKEN: 'short' })).rejects.toThrow(/METRICS_TOKEN/);
  });
});

/**
 * `/metrics` over a Unix socket: the client has no loopback address there, as a client
 * elsewhere would not (tests send nothing to any address but loopback).
 */
function metricsOverSocket(socketPath: string, headers: Record<string, string> = {}) {
  return new Promise<Awaited<ReturnType<typeof metrics>>>((resolve, reject) => {
    const req = request({ socketPath, path: '/metrics', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        let code: string | undefined;
        try {
          code = (JSON.parse(text) as { errors?: { extensions?: { code?: string } }[] }).errors?.[0]?.extensions?.code;
        } catch {
          code = undefined;
        }
        const header = (name: string) => (typeof res.headers[name] === 'string' ? (res.headers[name] as string) : null);
        resolve({
          status: res.statusCode ?? 0,
          code,
          text,
          contentType: header('content-type'),
          authenticate: header('www-authenticate'),
        });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('/metrics of a subgraph answers operators only', () => {
  const servers: SubgraphServer[] = [];
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'memegraph-metrics-'));
  });
  afterAll(async () => {
    for (const server of servers) await server.close();
    await rm(dir, { recursive: true, force: true });
  });
  const start = async (metricsToken?: string) => {
    const server = await createMemesServer({
      db: stack.dbs.memes,
      signingSecret: stack.secrets.signing,
      log: createLogger('test', 'silent'),
      metricsToken,
    });
    servers.push(server);
    const loopback = await server.listen(0, '127.0.0.1');
    // The same server on a Unix socket too: a client with no loopback address.
    const socketPath = path.join(dir, `memes-${servers.length}.sock`);
    const socketServer = createServer((req, res) => server.httpServer.emit('request', req, res));
    await new Promise<void>((resolve) => socketServer.listen(socketPath, resolve));
    servers.push({
      close: () => new Promise<void>((resolve) => socketServer.close(() => resolve())),
    } as SubgraphServer);
    return { loopback, elsewhere: (headers: Record<string, string> = {}) => metricsOverSocket(socketPath, headers) };
  };

  it('answers loopback, and refuses a client elsewhere with a coded 403 when no token is set', async () => {
    const { loopback, elsewhere } = await start();
    expect((await metrics(loopback)).status).toBe(200);
    expect(await elsewhere()).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    // A subgraph believes no X-Forwarded-For.
    expect(await elsewhere({ 'x-forwarded-for': '127.0.0.1' })).toMatchObject({ status: 403, code: 'FORBIDDEN' });
  });

  it('lets a client elsewhere in with its METRICS_TOKEN only', async () => {
    const { elsewhere } = await start(token);
    expect(await elsewhere()).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    expect(await elsewhere({ authorization: 'Bearer nope' })).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    const answer = await elsewhere({ authorization: `Bearer ${token}` });
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('subgraph_request_duration_seconds');
  });
});

describe('the operation label holds only names the router knows', () => {
  const LABELS = 50;
  const NAMES = 3_000;

  /** The distinct `operation` label values of the request histogram. */
  const operationLabels = (text: string) =>
    new Set(
      [...text.matchAll(/^graphql_request_duration_seconds_count\{[^}]*operation="([^"]*)"/gm)].map(
        (match) => match[1],
      ),
    );

  it(`${NAMES} invented operation names leave at most ${LABELS} + 1 labels and /metrics bounded`, async () => {
    const router = await stack.addRouter({ TIERS_JSON: GENEROUS_ANONYMOUS, METRICS_OPERATION_LABELS: String(LABELS) });
    const before = { rss: process.memoryUsage().rss, bytes: (await metrics(router)).text.length };
    let next = 0;
    const send = async () => {
      while (next < NAMES) {
        const name = `Invented${next++}_${randomBytes(4).toString('hex')}`;
        const response = await fetch(`${router}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
          body: JSON.stringify({ query: `query ${name} { __typename }` }),
        });
        expect(response.status).toBe(200);
        await response.arrayBuffer();
      }
    };
    await Promise.all(Array.from({ length: 10 }, send));
    const after = await metrics(router);
    const labels = operationLabels(after.text);
    console.log(
      `operation labels: ${labels.size}; /metrics ${before.bytes} → ${after.text.length} bytes; ` +
        `test process RSS ${Math.round(before.rss / 2 ** 20)} → ${Math.round(process.memoryUsage().rss / 2 ** 20)} MB after ${NAMES} names`,
    );
    expect(labels.size).toBeLessThanOrEqual(LABELS + 1);
    expect(labels.has('other')).toBe(true);
    // Each label is one histogram series; a bound on the labels is a bound on the text.
    expect(after.text.length).toBeLessThan(before.bytes + (LABELS + 1) * 4_000);
  });
});
