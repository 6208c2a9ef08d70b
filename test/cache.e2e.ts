import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, signUp } from './support/accounts';
import { routerClient } from './support/client';
import { Redis } from 'ioredis';
import { redisReadiness } from './support/redis';
import { ageCachedAnswers } from './support/gate';
import { PURGE_REQUEST_CHANNEL, purgeRequestMessage } from '@memegraph/service-kit';
import { GENEROUS_ANONYMOUS, TEST_REDIS_URL, startStack, type Stack } from './support/stack';

let stack: Stack;
let routerB: string;

beforeAll(async () => {
  stack = await startStack({
    users: 20,
    memes: 120,
    routerEnv: { TIERS_JSON: GENEROUS_ANONYMOUS, STALE_IF_ERROR_SECONDS: '120' },
  });
  routerB = await stack.addRouter();
});
afterAll(() => stack?.close());

describe('response cache', () => {
  it('answers a repeated query from the cache, whatever its whitespace or definition order, without calling a subgraph', async () => {
    const client = routerClient(stack.routerUrl);
    const first = await client(`query Hot { trending(first: 3) { ...M } } fragment M on Meme { id score }`);
    expect(first.headers.get('x-cache')).toBe('MISS');
    const before = stack.subgraphRequests();
    const second = await client(`fragment M on Meme {   id
      score }
      query Hot {
        trending(first: 3) { ...M }
      }`);
    expect(second.headers.get('x-cache')).toBe('HIT');
    expect(Number(second.headers.get('age'))).toBeGreaterThanOrEqual(0);
    expect(second.body.data).toEqual(first.body.data);
    expect(stack.subgraphRequests()).toEqual(before);
    // Another router finds it in Redis.
    const onB = await routerClient(routerB)(
      `query Hot { trending(first: 3) { ...M } } fragment M on Meme { id score }`,
    );
    expect(onB.headers.get('x-cache')).toBe('HIT');
    expect(stack.subgraphRequests()).toEqual(before);
    // Different variables are a different answer.
    const other = await client(`query Hot { trending(first: 4) { ...M } } fragment M on Meme { id score }`);
    expect(other.headers.get('x-cache')).toBe('MISS');
  });

  it('a vote through router A shows on router B at once, even for a query that did not ask for ids', async () => {
    const voter = await signUp(stack.routerUrl, 'cache_voter');
    const [meme] = await stack.dbs.memes.query<{ id: string; score: number }>(
      `SELECT id, score FROM memes WHERE origin = 'HUMAN' ORDER BY id LIMIT 1`,
    );
    const QUERY = `query($id: ID!) { meme(id: $id) { title score } }`;
    const onB = routerClient(routerB);
    expect((await onB<{ meme: { score: number } }>(QUERY, { id: meme!.id })).body.data!.meme.score).toBe(meme!.score);
    expect((await onB(QUERY, { id: meme!.id })).headers.get('x-cache')).toBe('HIT');

    await voter.client(`mutation($id: ID!) { vote(memeId: $id, value: 1) { score } }`, { id: meme!.id });
    const ms = await eventually(
      async () =>
        (await onB<{ meme: { score: number } }>(QUERY, { id: meme!.id })).body.data!.meme.score === meme!.score + 1,
    );
    expect(ms).toBeLessThan(1000);
  });

  it('a new meme purges cached lists of memes on every router', async () => {
    const author = await signUp(stack.routerUrl, 'cache_author');
    const LIST = `{ memes(first: 1) { edges { node { title } } } }`;
    const onB = routerClient(routerB);
    await onB(LIST);
    expect((await onB(LIST)).headers.get('x-cache')).toBe('HIT');
    await author.client(
      `mutation { createMeme(input: { title: "Fresh out of the oven", topText: "a", bottomText: "b", templateId: "1" }) { id } }`,
    );
    await eventually(
      async () =>
        (await onB<{ memes: { edges: { node: { title: string } }[] } }>(LIST)).body.data!.memes.edges[0]!.node.title ===
        'Fresh out of the oven',
    );
  });

  it('free and premium viewers, and two viewers on PRIVATE data, never get each other’s cached answers', async () => {
    const free = await signUp(stack.routerUrl, 'cache_free');
    const premium = await signUp(stack.routerUrl, 'cache_premium', 'PREMIUM');
    const FEED = `{ feed(first: 40) { edges { node { id origin } } } }`;
    const origins = (r: { body: { data?: { feed: { edges: { node: { origin: string } }[] } } | null } }) =>
      r.body.data!.feed.edges.map((e) => e.node.origin);
    const premiumFeed = await premium.client(FEED);
    expect(origins(premiumFeed as never)).toContain('AI');
    const freeFeed = await free.client(FEED);
    expect(freeFeed.headers.get('x-cache')).toBe('MISS');
    expect(origins(freeFeed as never)).not.toContain('AI');
    expect((await free.client(FEED)).headers.get('x-cache')).toBe('HIT');
    expect(origins((await premium.client(FEED)) as never)).toContain('AI');

    const ME = `{ me { handle tier } }`;
    const a = await free.client<{ me: { handle: string } }>(ME);
    const b = await premium.client<{ me: { handle: string } }>(ME);
    expect(a.body.data!.me.handle).toBe('cache_free');
    expect(b.body.data!.me.handle).toBe('cache_premium');
    expect((await free.client<{ me: { handle: string } }>(ME)).body.data!.me.handle).toBe('cache_free');
    expect((await premium.client<{ me: { handle: string } }>(ME)).body.data!.me.handle).toBe('cache_premium');
  });

  it('never caches errors or partial results', async () => {
    const free = await signUp(stack.routerUrl, 'cache_partial');
    const QUERY = `{ trending(first: 1) { id prompt } }`;
    const first = await free.client(QUERY);
    expect(first.body.errors?.[0]?.extensions?.code).toBe('UNAUTHORIZED_FIELD_OR_TYPE');
    expect(first.headers.get('x-cache')).toBeNull();
    const parse = await free.client(`{ trending(first: 1) { nope } }`);
    expect(parse.status).toBe(400);
    expect(parse.headers.get('x-cache')).toBeNull();
  });

  it('answers carry Cache-Control for the time they have left, the same on a hit as on the miss: public for CDNs, no-store for a viewer’s own data', async () => {
    const url = `${stack.routerUrl}/graphql?query=${encodeURIComponent('{ templates { id name } }')}`;
    const response = await fetch(url, { headers: { 'apollo-require-preflight': 'true' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toMatch(/^public, max-age=\d+$/);
    const again = await fetch(url, { headers: { 'apollo-require-preflight': 'true' } });
    expect(again.headers.get('x-cache')).toBe('HIT');
    expect(again.headers.get('cache-control')).toMatch(/^public, max-age=\d+$/);

    const client = routerClient(stack.routerUrl);
    const QUERY = '{ templates { id } }';
    const [miss, hit] = [await client(QUERY), await client(QUERY)];
    expect([miss.headers.get('x-cache'), hit.headers.get('x-cache')]).toEqual(['MISS', 'HIT']);
    const maxAge = (r: { headers: Headers }) =>
      Number(/^public, max-age=(\d+)$/.exec(r.headers.get('cache-control') ?? '')?.[1]);
    expect(maxAge(miss)).toBeGreaterThan(0);
    expect(maxAge(hit)).toBeLessThanOrEqual(maxAge(miss));
    expect(maxAge(hit)).toBeGreaterThanOrEqual(maxAge(miss) - 1);

    const account = await signUp(stack.routerUrl, 'cache_private_get');
    const me = () =>
      fetch(`${stack.routerUrl}/graphql?query=${encodeURIComponent('{ me { handle } }')}`, {
        headers: { 'apollo-require-preflight': 'true', authorization: `Bearer ${account.token}` },
      });
    const [first, second] = [await me(), await me()];
    expect(second.headers.get('x-cache')).toBe('HIT');
    // The router keeps it for this viewer; browsers and CDNs keep none of the viewer's account data.
    for (const answer of [first, second]) expect(answer.headers.get('cache-control')).toBe('no-store');
  });

  it('a hit takes no cost points, and is refused with THROTTLED when the bucket lacks its estimate', async () => {
    const query = (name: string) => `query ${name} { trending(first: 3) { id score } }`;
    type Cost = { requestedQueryCost: number; actualQueryCost: number; throttleStatus: { currentlyAvailable: number } };
    const costOf = (r: { body: { extensions?: Record<string, unknown> } }) => r.body.extensions!.cost as Cost;
    const estimate = costOf(await routerClient(stack.routerUrl)(query('Probe'))).requestedQueryCost;
    // A bucket of twice the estimate, restored at one point a second: room for a hit after a miss.
    const router = await stack.addRouter({
      TIERS_JSON: JSON.stringify({
        free: { costBucketCapacity: 2 * estimate, maxCostPerOperation: 2 * estimate, costRestorePerSecond: 1 },
      }),
    });
    const account = await signUp(stack.routerUrl, 'cache_budget');
    const client = routerClient(router, { authorization: `Bearer ${account.token}` });

    const miss = await client(query('Budget'));
    expect(miss.headers.get('x-cache')).toBe('MISS');
    const afterMiss = costOf(miss).throttleStatus.currentlyAvailable;
    expect(afterMiss).toBeLessThanOrEqual(2 * estimate - costOf(miss).actualQueryCost + 1);
    for (let i = 0; i < 3; i++) {
      const hit = await client(query('Budget'));
      expect(hit.headers.get('x-cache')).toBe('HIT');
      expect(costOf(hit)).toMatchObject({ requestedQueryCost: estimate, actualQueryCost: 0 });
      expect(costOf(hit).throttleStatus.currentlyAvailable).toBeGreaterThanOrEqual(afterMiss);
    }

    // Spend the bucket on answers that are not cached (another operation name each time).
    let available = afterMiss;
    for (let i = 0; available >= estimate; i++) {
      const spent = await client(query(`Spend${i}`));
      expect(spent.status).toBe(200);
      available = costOf(spent).throttleStatus.currentlyAvailable;
    }
    const before = stack.subgraphRequests();
    const refused = await client(query('Budget'));
    expect(refused.status).toBe(429);
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('THROTTLED');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.body.data ?? null).toBeNull();
    expect(refused.headers.get('x-cache')).toBeNull();
    expect(stack.subgraphRequests()).toEqual(before);
  });

  it('purges on a worker’s request, in this version’s form or an earlier one’s, and drops messages it cannot use without stopping', async () => {
    const onB = routerClient(routerB);
    const LIST = `{ memes(first: 2) { edges { node { id } } } }`;
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const prefix = stack.routerEnv.REDIS_PREFIX;
      const expectPurgedBy = async (message: string) => {
        await onB(LIST);
        expect((await onB(LIST)).headers.get('x-cache')).toBe('HIT');
        await redis.publish(`${prefix}${PURGE_REQUEST_CHANNEL}`, message);
        await eventually(async () => (await onB(LIST)).headers.get('x-cache') === 'MISS', 2_000, 20);
      };
      await expectPurgedBy(purgeRequestMessage(['Meme:list']));
      // An earlier version's worker sends the bare list: every router purges it.
      await expectPurgedBy(JSON.stringify(['Meme:list']));

      // Nothing a router cannot read stops it: each is logged and dropped.
      for (const channel of ['cache-purge', PURGE_REQUEST_CHANNEL, 'viewer-invalidate']) {
        for (const junk of ['not json', '{"id":"x","tags":["Meme:list"]}', '[1,2]', 'null'])
          await redis.publish(`${prefix}${channel}`, junk);
      }
      await expectPurgedBy(purgeRequestMessage(['Meme:list']));
      expect(await redisReadiness(routerB)).toBe('ok');
    } finally {
      redis.disconnect();
    }
  });

  it('serves cached data stale when a subgraph is down; uncached data fails with DOWNSTREAM_SERVICE_ERROR', async () => {
    // A router without the in-process layer, so the entry's age in Redis is all that counts.
    const client = routerClient(await stack.addRouter({ CACHE_LOCAL_TTL_MS: '0' }));
    const CACHED = `{ templates { id name } }`;
    const good = await client(CACHED);
    expect((await client(CACHED)).headers.get('x-cache')).toBe('HIT');
    // Let the cached answer age past its maxAge (3600 s), within the stale window (maxAge + 120 s).
    const redis = new Redis(TEST_REDIS_URL);
    await ageCachedAnswers(redis, stack.routerEnv.REDIS_PREFIX!, 60);
    redis.disconnect();

    await stack.stopSubgraph('memes');
    const stale = await client(CACHED);
    expect(stale.status).toBe(200);
    expect(stale.headers.get('x-cache')).toBe('STALE');
    expect(Number(stale.headers.get('age'))).toBeGreaterThan(3600);
    expect(stale.body.extensions?.stale).toBe(true);
    expect(stale.body.data).toEqual(good.body.data);
    expect(stale.body.errors).toBeUndefined();

    const uncached = await client(`{ trending(first: 7) { id } }`);
    expect(uncached.body.errors?.[0]?.extensions).toMatchObject({
      code: 'DOWNSTREAM_SERVICE_ERROR',
      serviceName: 'memes',
    });
    expect(uncached.body.data).toBeNull();
    expect(uncached.status).toBe(502);
  });
});
