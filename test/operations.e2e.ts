import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp } from './support/accounts';
import { routerClient } from './support/client';
import { startProxy } from './support/proxy';
import { startStack, type Stack } from './support/stack';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ users: 10, memes: 30 });
});
afterAll(() => stack?.close());

describe('health, readiness and metrics', () => {
  it('every service answers /health, /ready and /metrics', async () => {
    for (const base of [stack.routerUrl, ...Object.values(stack.subgraphUrls).map((u) => new URL(u).origin)]) {
      expect((await fetch(`${base}/health`)).status).toBe(200);
      const ready = await fetch(`${base}/ready`);
      expect(ready.status, base).toBe(200);
      const metrics = await fetch(`${base}/metrics`);
      expect(metrics.status).toBe(200);
      const text = await metrics.text();
      expect(text).toContain('nodejs_eventloop_lag_seconds');
    }
  });

  it('the router reports latency by operation, cache lookups, rejections by reason and tier, cost and subgraph latency', async () => {
    const client = routerClient(stack.routerUrl);
    await client(`query TopThree { trending(first: 3) { id author { handle } } }`);
    await client(`query TopThree { trending(first: 3) { id author { handle } } }`);
    await client(`{ memes(first: 100) { edges { node { id author { handle } template { name } } } } }`);
    const text = await (await fetch(`${stack.routerUrl}/metrics`)).text();
    expect(text).toMatch(/graphql_request_duration_seconds_count\{[^}]*operation="TopThree"[^}]*status="200"[^}]*\} 2/);
    expect(text).toMatch(/response_cache_lookups_total\{[^}]*result="hit"[^}]*\} [1-9]/);
    expect(text).toMatch(
      /graphql_rejections_total\{[^}]*reason="COST_ESTIMATED_TOO_EXPENSIVE"[^}]*tier="anonymous"[^}]*\} 1/,
    );
    expect(text).toMatch(/graphql_operation_cost_count\{[^}]*tier="anonymous"[^}]*\} [1-9]/);
    expect(text).toMatch(/subgraph_fetch_duration_seconds_count\{[^}]*subgraph="users"[^}]*outcome="ok"[^}]*\} [1-9]/);
  });

  it('the ai subgraph reports queue depth and key health', async () => {
    const text = await (await fetch(`${new URL(stack.subgraphUrls.ai).origin}/metrics`)).text();
    expect(text).toMatch(/ai_queue_jobs\{[^}]*state="waiting"[^}]*\} 0/);
    expect(text).toMatch(/ai_key_breaker_state\{[^}]*key="local#0"[^}]*\} 0/);
  });
});

describe('request logs', () => {
  it('one JSON line per request with the request id (accepted and echoed), operation, viewer, status, duration and cache — and no secrets', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean))
          lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const router = await stack.addRouter({}, pino({ level: 'info' }, sink));
    const account = await signUp(router, 'logged_user');
    const created = await account.client<{ createApiKey: { secret: string } }>(
      `mutation { createApiKey(name: "log") { secret } }`,
    );
    const secret = created.body.data!.createApiKey.secret;
    const response = await fetch(`${router}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': secret, 'x-request-id': 'trace-me-42' },
      body: JSON.stringify({ query: 'query Mine { me { handle } }' }),
    });
    expect(response.headers.get('x-request-id')).toBe('trace-me-42');
    const generated = await fetch(`${router}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query":"{ plans { tier } }"}',
    });
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);

    await new Promise((r) => setTimeout(r, 20));
    const line = lines.find((l) => l.requestId === 'trace-me-42');
    expect(line).toMatchObject({
      msg: 'request',
      operation: 'Mine',
      viewer: account.id,
      tier: 'free',
      status: 200,
      cache: 'MISS',
    });
    expect(typeof line!.durationMs).toBe('number');
    const everything = JSON.stringify(lines);
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain(account.token);
  });

  it('sends the request id along with the viewer lookup a credential needs', async () => {
    const users = await startProxy([stack.subgraphUrls.users]);
    try {
      const router = await stack.addRouter({ SUBGRAPH_URL_USERS: users.url('/graphql') });
      const account = await signUp(router, 'lookup_user');
      const created = await account.client<{ createApiKey: { secret: string } }>(
        `mutation { createApiKey(name: "lookup") { secret } }`,
      );
      // A key never used before: the router asks the users subgraph who it belongs to.
      const response = await fetch(`${router}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-api-key': created.body.data!.createApiKey.secret,
          'x-request-id': 'lookup-42',
        },
        body: JSON.stringify({ query: '{ me { handle } }' }),
      });
      expect(response.status).toBe(200);
      const lookups = users.received.filter((r) => r.path === '/internal/viewer');
      expect(lookups.map((r) => r.headers['x-request-id'])).toContain('lookup-42');
    } finally {
      await users.close();
    }
  });
});
