import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routerClient, type GraphQLResponse } from './support/client';
import { ageCachedAnswers, sendTogether, startGate, type Gate } from './support/gate';
import { GENEROUS_ANONYMOUS, TEST_REDIS_URL, startStack, type Stack } from './support/stack';

/**
 * Single flight across routers: concurrent misses of one response-cache key
 * that was cached before (an expired answer is found) on two routers of one
 * deployment (one Redis) wait for one execution. The
 * routers run with SUBGRAPH_DEDUP=false and ENTITY_CACHE=false, so the
 * subgraph calls counted are executions.
 */

let stack: Stack;
let gate: Gate;
let redis: Redis;
let routers: string[];

/** Sends requests at once through the shut gate (sendTogether) and counts the memes and users calls they made. */
const together = (requests: (() => Promise<GraphQLResponse>)[], release: { fail?: boolean } = {}) =>
  sendTogether(gate, routers, () => stack.subgraphRequests().users, requests, release);

beforeAll(async () => {
  stack = await startStack({ users: 10, memes: 40, routerEnv: { TIERS_JSON: GENEROUS_ANONYMOUS } });
  gate = await startGate(stack.subgraphUrls.memes);
  redis = new Redis(TEST_REDIS_URL);
  const env = {
    SUBGRAPH_URL_MEMES: gate.url,
    SUBGRAPH_DEDUP: 'false',
    ENTITY_CACHE: 'false',
    // What Redis holds is what counts: no in-process copy answers in front of it.
    CACHE_LOCAL_TTL_MS: '0',
    // The expired answer in hand must not be served stale while the gate holds the subgraph.
    STALE_IF_ERROR_WAIT_MS: '60000',
    SUBGRAPH_BREAKER_THRESHOLD: '1000',
    RESPONSE_CACHE_SINGLE_FLIGHT: process.env.RESPONSE_CACHE_SINGLE_FLIGHT ?? 'true',
  };
  routers = [await stack.addRouter(env), await stack.addRouter(env)];
}, 60_000);
afterAll(async () => {
  redis?.disconnect();
  await stack?.close();
  await gate?.close();
});

describe('single-flight misses across routers', () => {
  it('50 concurrent requests for an expired answer, over two routers, make one execution', async () => {
    const [a, b] = routers.map((url) => routerClient(url)) as [
      ReturnType<typeof routerClient>,
      ReturnType<typeof routerClient>,
    ];
    // Trending from memes, then its authors from users: two subgraph calls per execution.
    const PAGE = `{ trending(first: 6) { id title author { handle } } }`;
    const first = await a(PAGE);
    expect(first.body.errors).toBeUndefined();
    expect((await b(PAGE)).headers.get('x-cache')).toBe('HIT');
    expect(await ageCachedAnswers(redis, stack.redisPrefix)).toBeGreaterThan(0);

    const n = 50;
    const { answers, memes, users } = await together(
      Array.from({ length: n }, (_, i) => () => (i % 2 === 0 ? a(PAGE) : b(PAGE))),
    );
    expect(memes).toBe(1);
    expect(users).toBe(1);
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.body.errors).toBeUndefined();
      expect(answer.body.data).toEqual(first.body.data);
    }
    const marks = answers.map((answer) => answer.headers.get('x-cache')).sort();
    expect(marks).toEqual(['MISS', ...Array<string>(n - 1).fill('HIT')].sort());
  });

  it('a failed execution on one router hands nothing to the other: it executes on its own', async () => {
    const [a, b] = routers.map((url) => routerClient(url)) as [
      ReturnType<typeof routerClient>,
      ReturnType<typeof routerClient>,
    ];
    const QUERY = `{ trending(first: 7) { id title } }`;
    expect((await a(QUERY)).body.errors).toBeUndefined();
    expect(await ageCachedAnswers(redis, stack.redisPrefix)).toBeGreaterThan(0);
    // One request per router, the gate shut: one executes, the other waits on it. The gate cuts the execution off.
    const { answers, memes } = await together([() => a(QUERY), () => b(QUERY)], { fail: true });
    // The one cut off, then the other's own execution once the gate was open.
    expect(memes).toBe(2);
    // The one cut off serves the expired answer it had in hand (stale if error); the other router, told that
    // execution stored nothing, executed itself: a fresh answer. (Without single flight across routers both
    // would have been cut off and both served stale.)
    expect(answers.map((answer) => answer.headers.get('x-cache')).sort()).toEqual(['MISS', 'STALE']);
    for (const answer of answers) {
      expect(answer.body.errors).toBeUndefined();
      expect((answer.body.data as { trending: unknown[] }).trending).toHaveLength(7);
    }
  });
});
