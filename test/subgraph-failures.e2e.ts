import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './support/accounts';
import { routerClient } from './support/client';
import { startProxy, type TestProxy } from './support/proxy';
import { GENEROUS_ANONYMOUS, startStack, type Stack } from './support/stack';

let stack: Stack;
/** In front of the memes subgraph: passes, delays, or drops requests. */
let proxy: TestProxy;

beforeAll(async () => {
  stack = await startStack({ users: 10, memes: 30, routerEnv: { TIERS_JSON: GENEROUS_ANONYMOUS } });
  proxy = await startProxy([stack.subgraphUrls.memes]);
});
afterAll(async () => {
  await proxy?.close();
  await stack?.close();
});

describe('subgraph failures', () => {
  it('a slow subgraph hits its timeout; a failing one opens its breaker (no more calls), and both recover; the rest of each response is served', async () => {
    const router = await stack.addRouter({
      SUBGRAPH_URL_MEMES: proxy.url('/graphql'),
      SUBGRAPH_TIMEOUT_MS: '300',
      SUBGRAPH_BREAKER_THRESHOLD: '3',
      SUBGRAPH_BREAKER_HALF_OPEN_MS: '500',
    });
    const client = routerClient(router);
    // One field from users, one from memes; randomMeme is never cached.
    const QUERY = `{ plans { tier } randomMeme { id } }`;
    expect((await client(QUERY)).body.errors).toBeUndefined();

    proxy.behaviour.delayMs = 2_000;
    const started = Date.now();
    const slow = await client<{ plans: unknown[]; randomMeme: unknown }>(QUERY);
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(slow.status).toBe(200);
    expect(slow.body.data!.plans).toHaveLength(4);
    expect(slow.body.data!.randomMeme).toBeNull();
    expect(slow.body.errors?.[0]?.extensions).toMatchObject({ code: 'DOWNSTREAM_SERVICE_ERROR', serviceName: 'memes' });

    proxy.behaviour.delayMs = 0;
    proxy.behaviour.down = true;
    for (let i = 0; i < 3; i++) await client(QUERY);
    const callsWhenOpen = proxy.calls;
    const failFast = await client<{ plans: unknown[] }>(QUERY);
    expect(failFast.body.data!.plans).toHaveLength(4);
    expect(failFast.body.errors?.[0]?.extensions?.code).toBe('DOWNSTREAM_SERVICE_ERROR');
    expect(proxy.calls).toBe(callsWhenOpen);
    const metrics = await (await fetch(`${router}/metrics`)).text();
    expect(metrics).toMatch(/subgraph_breaker_state\{[^}]*subgraph="memes"[^}]*\} 2/);

    proxy.behaviour.down = false;
    await eventually(async () => !(await client(QUERY)).body.errors, 3_000, 100);
  });

  it('a subgraph that is down is reported by /ready without taking the router out of rotation', async () => {
    proxy.behaviour.down = true;
    const router = await stack.addRouter({ SUBGRAPH_URL_MEMES: proxy.url('/graphql') });
    const ready = await fetch(`${router}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'degraded',
      checks: { memes: 'unavailable', users: 'ok', ai: 'ok' },
    });
    proxy.behaviour.down = false;
  });
});
