import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, signUp, subscribeTo, type TestAccount } from './support/accounts';
import { routerClient, type GraphQLResponse } from './support/client';
import { ageCachedAnswers } from './support/gate';
import { startProxy, type TestProxy } from './support/proxy';
import { GENEROUS_ANONYMOUS, TEST_REDIS_URL, startStack, type Stack } from './support/stack';

/**
 * Stale-if-error: while the memes subgraph is down or hung, a read whose
 * answer was cached before is answered with that answer at once, marked
 * stale; purges keep a stale-only copy unless an entitlement changed; a
 * mutation that did not happen purges nothing.
 */

let stack: Stack;
/** In front of the memes subgraph: passes, refuses, or holds requests unanswered. */
let proxy: TestProxy;
let redis: Redis;

beforeAll(async () => {
  stack = await startStack({
    users: 10,
    memes: 60,
    routerEnv: { TIERS_JSON: GENEROUS_ANONYMOUS, STALE_IF_ERROR_SECONDS: '300' },
  });
  proxy = await startProxy([stack.subgraphUrls.memes]);
  redis = new Redis(TEST_REDIS_URL);
});
afterAll(async () => {
  redis?.disconnect();
  await proxy?.close();
  await stack?.close();
});

const restore = () => {
  proxy.behaviour.down = false;
  proxy.behaviour.hang = false;
};

/** A router reaching memes through the proxy, without the in-process layer: what Redis holds is what counts. */
const addRouter = (env: Record<string, string> = {}) =>
  stack.addRouter({ SUBGRAPH_URL_MEMES: proxy.url('/graphql'), CACHE_LOCAL_TTL_MS: '0', ...env });

const answered = (r: GraphQLResponse) => r.status === 200 && !r.body.errors && !!r.body.data;

type List = { memes: { edges: { node: { id: string; score: number } }[] } };

describe('stale if error', () => {
  it('serves the cached answer at once while the subgraph holds the request unanswered', async () => {
    const client = routerClient(await addRouter({ SUBGRAPH_TIMEOUT_MS: '30000' }));
    const QUERY = `{ trending(first: 4) { id title } }`;
    const good = await client(QUERY);
    expect(answered(good)).toBe(true);
    await ageCachedAnswers(redis, stack.redisPrefix);

    proxy.behaviour.hang = true;
    try {
      const stale = await client(QUERY);
      // The subgraph still has the request: the answer did not wait for its timeout.
      expect(proxy.holding).toBeGreaterThan(0);
      expect(stale.status).toBe(200);
      expect(stale.headers.get('x-cache')).toBe('STALE');
      expect(Number(stale.headers.get('age'))).toBeGreaterThan(0);
      expect(stale.body.extensions?.stale).toBe(true);
      expect(stale.body.errors).toBeUndefined();
      expect(stale.body.data).toEqual(good.body.data);
    } finally {
      restore();
    }
  });

  it('does not wait for the probe of a half-open breaker: reads with a cached answer are answered while it hangs', async () => {
    const client = routerClient(
      await addRouter({
        SUBGRAPH_TIMEOUT_MS: '30000',
        SUBGRAPH_BREAKER_THRESHOLD: '1',
        SUBGRAPH_BREAKER_HALF_OPEN_MS: '200',
      }),
    );
    const CACHED = `{ trending(first: 5) { id title } }`;
    const good = await client(CACHED);
    expect(answered(good)).toBe(true);
    await ageCachedAnswers(redis, stack.redisPrefix);

    // One refused fetch opens the breaker; then the subgraph hangs.
    proxy.behaviour.down = true;
    const UNCACHED = `{ randomMeme { id } }`;
    expect((await client(UNCACHED)).body.errors?.[0]?.extensions?.code).toBe('DOWNSTREAM_SERVICE_ERROR');
    proxy.behaviour.down = false;
    proxy.behaviour.hang = true;
    const held = proxy.holding;
    try {
      // Uncached reads fail fast while the breaker is open; the first one after it half-opens is its probe, held.
      const probes: Promise<unknown>[] = [];
      await eventually(
        async () => {
          if (proxy.holding > held) return true;
          probes.push(client(UNCACHED));
          return false;
        },
        10_000,
        50,
      );
      const stale = await client(CACHED);
      expect(proxy.holding).toBeGreaterThan(held);
      expect(stale.headers.get('x-cache')).toBe('STALE');
      expect(stale.body.data).toEqual(good.body.data);
      expect(stale.body.extensions?.stale).toBe(true);
    } finally {
      restore();
    }
  });

  it('after a vote purges a cached list, the list is fetched fresh, and served stale when the memes subgraph then goes down', async () => {
    const client = routerClient(await addRouter());
    const voter = await signUp(stack.routerUrl, 'stale_voter');
    const LIST = `{ memes(first: 3) { edges { node { id score } } } }`;
    const before = await client<List>(LIST);
    expect(answered(before)).toBe(true);
    expect((await client(LIST)).headers.get('x-cache')).toBe('HIT');
    const meme = before.body.data!.memes.edges[0]!.node;

    const vote = await voter.client(`mutation($id: ID!) { vote(memeId: $id, value: 1) { id score } }`, { id: meme.id });
    expect(vote.body.errors).toBeUndefined();
    // The purged copy is never a fresh hit: the next read fetches the new score.
    const after = await client<List>(LIST);
    expect(after.headers.get('x-cache')).toBe('MISS');
    expect(after.body.data!.memes.edges[0]!.node.score).toBe(meme.score + 1);

    // The fresh answer is gone as well (another purge), and the memes subgraph is down: the last good answer is served.
    await voter.client(`mutation($id: ID!) { vote(memeId: $id, value: 0) { id } }`, { id: meme.id });
    proxy.behaviour.down = true;
    try {
      const stale = await client<List>(LIST);
      expect(stale.status).toBe(200);
      expect(stale.headers.get('x-cache')).toBe('STALE');
      expect(stale.body.extensions?.stale).toBe(true);
      expect(stale.body.data).toEqual(after.body.data);
    } finally {
      restore();
    }
  });

  it('a refused or failed mutation purges nothing', async () => {
    const client = routerClient(await addRouter());
    const free = await signUp(stack.routerUrl, 'stale_free');
    const LIST = `{ memes(first: 4) { edges { node { id } } } }`;
    await client(LIST);
    expect((await client(LIST)).headers.get('x-cache')).toBe('HIT');

    // A free viewer may not generate: refused before it runs.
    const refused = await free.client(`mutation { generateMeme(input: { prompt: "a cat" }) { id } }`);
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('UNAUTHORIZED_FIELD_OR_TYPE');
    expect((await client(LIST)).headers.get('x-cache')).toBe('HIT');

    // A meme that cannot be created (no such template) changes no list.
    const failed = await free.client(
      `mutation { createMeme(input: { title: "t", topText: "a", bottomText: "b", templateId: "999999" }) { id } }`,
    );
    expect(failed.body.errors?.length).toBeGreaterThan(0);
    expect((await client(LIST)).headers.get('x-cache')).toBe('HIT');

    // One that is created does.
    const created = await free.client(
      `mutation { made: createMeme(input: { title: "t", topText: "a", bottomText: "b", templateId: "1" }) { id } }`,
    );
    expect(created.body.errors).toBeUndefined();
    expect((await client(LIST)).headers.get('x-cache')).toBe('MISS');
  });

  it('keeps no stale copy of answers purged by an entitlement change', async () => {
    const client = routerClient(await addRouter());
    const author = await signUp(stack.routerUrl, 'stale_entitled');
    const QUERY = `query($id: ID!) { user(id: $id) { handle memes(first: 2) { edges { node { id } } } } }`;
    expect(answered(await client(QUERY, { id: author.id }))).toBe(true);
    expect((await client(QUERY, { id: author.id })).headers.get('x-cache')).toBe('HIT');

    await subscribeTo(author.client, 'PREMIUM');
    proxy.behaviour.down = true;
    try {
      const after = await client(QUERY, { id: author.id });
      expect(after.headers.get('x-cache')).not.toBe('STALE');
      expect(after.body.errors?.[0]?.extensions?.code).toBe('DOWNSTREAM_SERVICE_ERROR');
    } finally {
      restore();
    }
  });

  /**
   * The share of reads answered during an outage of the memes subgraph,
   * under load: reads at READS_PER_SECOND over queries all cached (and aged
   * past their maxAge) before it, with refused and failing mutations among
   * them. STALE_OUTAGE_MS and STALE_OUTAGE_MODE (refused, hang) set the
   * outage; the figures are printed.
   */
  it('answers at least 95% of reads during an outage of the memes subgraph', async () => {
    const outageMs = Number(process.env.STALE_OUTAGE_MS ?? 3_000);
    const mode = process.env.STALE_OUTAGE_MODE === 'hang' ? 'hang' : 'refused';
    const READS_PER_SECOND = 20;
    // The router's defaults for timeouts and breakers.
    const client = routerClient(await addRouter());
    const free: TestAccount = await signUp(stack.routerUrl, `stale_load_${mode}`);
    const [{ id: memeId } = { id: '1' }] = await stack.dbs.memes.query<{ id: string }>(
      `SELECT id FROM memes ORDER BY id LIMIT 1`,
    );
    const reads: [string, Record<string, unknown>][] = [
      [`{ memes(first: 5) { edges { node { id title score } } } }`, {}],
      [`{ memes(first: 10) { edges { node { id title } } } }`, {}],
      [`{ trending(first: 5) { id title score } }`, {}],
      [`{ trending(first: 8) { id } }`, {}],
      [`{ feed(first: 5) { edges { node { id title } } } }`, {}],
      [`{ search(text: "meme", first: 5) { id title } }`, {}],
      [`{ templates { id name } }`, {}],
      [`query($id: ID!) { meme(id: $id) { id title score } }`, { id: memeId }],
      [`{ plans { tier } trending(first: 3) { id } }`, {}],
      [`{ memes(first: 5, tag: "cats") { edges { node { id } } } }`, {}],
    ];
    for (const [query, variables] of reads) expect(answered(await client(query, variables))).toBe(true);
    expect(await ageCachedAnswers(redis, stack.redisPrefix)).toBeGreaterThanOrEqual(reads.length);

    proxy.behaviour[mode === 'hang' ? 'hang' : 'down'] = true;
    const started = Date.now();
    const pending: Promise<{ ok: boolean; ms: number; cache: string | null }>[] = [];
    const mutations: Promise<unknown>[] = [];
    try {
      for (let i = 0; Date.now() - started < outageMs; i++) {
        const [query, variables] = reads[i % reads.length]!;
        const sent = Date.now();
        pending.push(
          client(query, variables).then((r) => ({
            ok: answered(r),
            ms: Date.now() - sent,
            cache: r.headers.get('x-cache'),
          })),
        );
        // Now and then a mutation that does not happen: a generation the viewer may not ask for, a vote the subgraph cannot take.
        if (i % 10 === 5) mutations.push(free.client(`mutation { generateMeme(input: { prompt: "cats" }) { id } }`));
        if (i % 10 === 0)
          mutations.push(free.client(`mutation($id: ID!) { vote(memeId: $id, value: 1) { id } }`, { id: memeId }));
        await new Promise((r) => setTimeout(r, 1000 / READS_PER_SECOND));
      }
      const results = await Promise.all(pending);
      await Promise.all(mutations);
      const share = results.filter((r) => r.ok).length / results.length;
      const latencies = results.map((r) => r.ms).sort((a, b) => a - b);
      const firstAnswered = results.findIndex((r) => r.ok);
      console.log(
        JSON.stringify({
          mode,
          outageMs,
          reads: results.length,
          answered: results.filter((r) => r.ok).length,
          share: Math.round(share * 1000) / 10,
          answeredWithin1s: results.filter((r) => r.ok && r.ms <= 1000).length,
          stale: results.filter((r) => r.cache === 'STALE').length,
          p50: latencies[Math.floor(latencies.length / 2)],
          p95: latencies[Math.floor(latencies.length * 0.95)],
          max: latencies.at(-1),
          firstAnsweredRead: firstAnswered,
        }),
      );
      expect(share).toBeGreaterThanOrEqual(0.95);
    } finally {
      restore();
    }
  });
});
