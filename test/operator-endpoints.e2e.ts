import { randomBytes } from 'node:crypto';
import { networkInterfaces } from 'node:os';
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

/** An address of this machine that is not loopback, so a request from it is not a loopback client. */
function externalAddress(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) if (address.family === 'IPv4' && !address.internal) return address.address;
  }
  throw new Error('this test needs a network interface besides loopback');
}

async function metrics(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${url}/metrics`, { headers });
  const text = await response.text();
  let code: string | undefined;
  try {
    code = (JSON.parse(text) as { errors?: { extensions?: { code?: string } }[] }).errors?.[0]?.extensions?.code;
  } catch {
    code = undefined;
  }
  return { status: response.status, code, text, contentType: response.headers.get('content-type'), authenticate: response.headers.get('www-authenticate') };
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
      expect(answer, forwarded).toMatchObject({ status: 403, code: 'FORBIDDEN', contentType: 'application/json; charset=utf-8' });
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

describe('/metrics of a subgraph answers operators only', () => {
  const servers: SubgraphServer[] = [];
  afterAll(async () => {
    for (const server of servers) await server.close();
  });
  const start = async (metricsToken?: string) => {
    const server = await createMemesServer({ db: stack.dbs.memes, signingSecret: stack.secrets.signing, log: createLogger('test', 'silent'), metricsToken });
    servers.push(server);
    const port = new URL(await server.listen(0, '0.0.0.0')).port;
    return { loopback: `http://127.0.0.1:${port}`, elsewhere: `http://${externalAddress()}:${port}` };
  };

  it('answers loopback, and refuses a client elsewhere with a coded 403 when no token is set', async () => {
    const { loopback, elsewhere } = await start();
    expect((await metrics(loopback)).status).toBe(200);
    expect(await metrics(elsewhere)).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    // A subgraph believes no X-Forwarded-For.
    expect(await metrics(elsewhere, { 'x-forwarded-for': '127.0.0.1' })).toMatchObject({ status: 403, code: 'FORBIDDEN' });
  });

  it('lets a client elsewhere in with its METRICS_TOKEN only', async () => {
    const { elsewhere } = await start(token);
    expect(await metrics(elsewhere)).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    expect(await metrics(elsewhere, { authorization: 'Bearer nope' })).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    const answer = await metrics(elsewhere, { authorization: `Bearer ${token}` });
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('subgraph_request_duration_seconds');
  });
});

describe('the operation label holds only names the router knows', () => {
  const LABELS = 50;
  const NAMES = 3_000;

  /** The distinct `operation` label values of the request histogram. */
  const operationLabels = (text: string) =>
    new Set([...text.matchAll(/^graphql_request_duration_seconds_count\{[^}]*operation="([^"]*)"/gm)].map((match) => match[1]));

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
