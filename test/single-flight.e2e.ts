import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, signUp, type TestAccount } from './support/accounts';
import { routerClient, type GraphQLResponse } from './support/client';
import { ageCachedAnswers, sendTogether, startGate, type Gate } from './support/gate';
import { GENEROUS_ANONYMOUS, TEST_REDIS_URL, startStack, type Stack } from './support/stack';

/**
 * Single-flight misses: concurrent misses of one response-cache key on a
 * router wait for one execution and are answered from it; an answer with
 * errors is never handed to them; different partitions never share one.
 *
 * The router runs with SUBGRAPH_DEDUP=false and ENTITY_CACHE=false, so the
 * subgraph calls counted show single-flight and not the sharing of identical
 * fetches in flight or entities kept from an earlier execution.
 * RESPONSE_CACHE_SINGLE_FLIGHT=false in the environment runs the same
 * tests against a router without it (they then fail).
 */

let stack: Stack;
let gate: Gate;
let redis: Redis;
let routerUrl: string;
let member: TestAccount;
/** A router serving answers up to 120 s past their maxAge while it refreshes them. */
let revalidatingUrl: string;

const cacheHeaders = (answers: GraphQLResponse[]) => answers.map((a) => a.headers.get('x-cache')).sort();

/** Sends requests at once through the shut gate (sendTogether) and counts the memes and users calls they made. */
const together = (requests: (() => Promise<GraphQLResponse>)[], release: { fail?: boolean } = {}) =>
  sendTogether(gate, [routerUrl], () => stack.subgraphRequests().users, requests, release);

beforeAll(async () => {
  stack = await startStack({ users: 10, memes: 40, routerEnv: { TIERS_JSON: GENEROUS_ANONYMOUS } });
  gate = await startGate(stack.subgraphUrls.memes);
  redis = new Redis(TEST_REDIS_URL);
  routerUrl = await stack.addRouter({
    SUBGRAPH_URL_MEMES: gate.url,
    SUBGRAPH_DEDUP: 'false',
    ENTITY_CACHE: 'false',
    // What Redis holds is what counts: no in-process copy answers in front of it.
    CACHE_LOCAL_TTL_MS: '0',
    // An expired answer in hand makes a read wait only briefly for a subgraph before serving it stale:
    // here the gate holds the subgraph until every request is in.
    STALE_IF_ERROR_WAIT_MS: '60000',
    // One cut-off fetch per test must not open the breaker for the next.
    SUBGRAPH_BREAKER_THRESHOLD: '1000',
    RESPONSE_CACHE_SINGLE_FLIGHT: process.env.RESPONSE_CACHE_SINGLE_FLIGHT ?? 'true',
  });
  member = await signUp(stack.routerUrl, 'flight_member');
  revalidatingUrl = await stack.addRouter({
    SUBGRAPH_URL_MEMES: gate.url,
    SUBGRAPH_DEDUP: 'false',
    ENTITY_CACHE: 'false',
    CACHE_LOCAL_TTL_MS: '0',
    STALE_WHILE_REVALIDATE_SECONDS: process.env.STALE_WHILE_REVALIDATE_SECONDS ?? '120',
  });
}, 60_000);
afterAll(async () => {
  redis?.disconnect();
  await stack?.close();
  await gate?.close();
});

describe('single-flight response-cache misses', () => {
  it('50 concurrent requests for an expired answer make one execution, and all get its answer', async () => {
    const client = routerClient(routerUrl);
    // Trending from memes, then its authors from users: two subgraph calls per execution.
    const PAGE = `{ trending(first: 6) { id title author { handle } } }`;
    const first = await client(PAGE);
    expect(first.body.errors).toBeUndefined();
    expect((await client(PAGE)).headers.get('x-cache')).toBe('HIT');
    expect(await ageCachedAnswers(redis, stack.redisPrefix)).toBeGreaterThan(0);

    const n = 50;
    const { answers, memes, users } = await together(Array.from({ length: n }, () => () => client(PAGE)));
    expect(memes).toBe(1);
    expect(users).toBe(1);
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.body.errors).toBeUndefined();
      expect(answer.body.data).toEqual(first.body.data);
    }
    // The one that executed is the miss; those that waited for it are answered as hits.
    expect(cacheHeaders(answers)).toEqual(['MISS', ...Array<string>(n - 1).fill('HIT')].sort());
  });

  it('a leader whose subgraph fails hands no failure to those waiting: they execute on their own', async () => {
    const client = routerClient(routerUrl);
    const QUERY = `{ trending(first: 7) { id title } }`;
    const n = 10;
    const { answers, memes } = await together(
      Array.from({ length: n }, () => () => client(QUERY)),
      { fail: true },
    );
    const failed = answers.filter((a) => a.body.errors?.length);
    expect(failed.length).toBe(1);
    expect(failed[0]!.body.errors![0]!.extensions?.code).toBe('DOWNSTREAM_SERVICE_ERROR');
    const good = answers.filter((a) => !a.body.errors?.length);
    expect(good.length).toBe(n - 1);
    for (const answer of good) {
      expect((answer.body.data as { trending: unknown[] }).trending).toHaveLength(7);
      expect(answer.body.data).toEqual(good[0]!.body.data);
      // Nothing was shared with them: each executed (a failed answer is never a hit).
      expect(answer.headers.get('x-cache')).toBe('MISS');
    }
    // The cut-off fetch, then the others' own.
    expect(memes).toBeGreaterThan(1);
    // What was stored is the good answer, never the failure.
    const after = await client(QUERY);
    expect(after.headers.get('x-cache')).toBe('HIT');
    expect(after.body.data).toEqual(good[0]!.body.data);
  });

  it('never shares an execution between tiers', async () => {
    const anonymous = routerClient(routerUrl);
    const signedIn = routerClient(routerUrl, { authorization: `Bearer ${member.token}` });
    const QUERY = `{ trending(first: 8) { id title } }`;
    const n = 10;
    const { answers, memes } = await together([
      ...Array.from({ length: n }, () => () => anonymous(QUERY)),
      ...Array.from({ length: n }, () => () => signedIn(QUERY)),
    ]);
    // One execution per partition.
    expect(memes).toBe(2);
    for (const group of [answers.slice(0, n), answers.slice(n)]) {
      expect(cacheHeaders(group)).toEqual(['MISS', ...Array<string>(n - 1).fill('HIT')].sort());
      for (const answer of group) expect(answer.body.errors).toBeUndefined();
    }
  });
});

describe('stale while revalidate', () => {
  it('serves an expired answer at once while one refresh runs, then the refreshed answer', async () => {
    const client = routerClient(revalidatingUrl);
    const QUERY = `{ trending(first: 9) { id title } }`;
    const first = await client(QUERY);
    expect(first.body.errors).toBeUndefined();
    // Shared caches are told so for a public answer.
    expect(first.headers.get('cache-control')).toMatch(/^public, max-age=\d+, stale-while-revalidate=120$/);
    expect(await ageCachedAnswers(redis, stack.redisPrefix)).toBeGreaterThan(0);

    const before = gate.arrivals;
    gate.hold();
    let answers: GraphQLResponse[];
    try {
      // The memes subgraph holds what it is sent: these are answered without it.
      answers = await Promise.all(Array.from({ length: 5 }, () => client(QUERY)));
      await eventually(async () => gate.arrivals > before, 10_000);
    } finally {
      gate.release();
    }
    // One refresh for all five.
    expect(gate.arrivals - before).toBe(1);
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.headers.get('x-cache')).toBe('STALE');
      expect(answer.body.extensions?.stale).toBe(true);
      expect(answer.body.data).toEqual(first.body.data);
    }
    // Once the refresh is stored, it is a hit again.
    await eventually(async () => (await client(QUERY)).headers.get('x-cache') === 'HIT', 10_000, 50);
  });
});
