import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, signUp } from './support/accounts';
import { routerClient } from './support/client';
import { fallbackLog, redisReadiness } from './support/redis';
import { startRedisCluster, type LocalRedisCluster } from './support/redisCluster';
import { startStack, type Stack } from './support/stack';

let cluster: LocalRedisCluster | undefined;
let stack: Stack | undefined;
let routerA: string;
let routerB: string;
/** Redis components routers A and B fell back from, in order. */
const { log, fallbacks } = fallbackLog();

beforeAll(async () => {
  // Three masters, each with a replica, so losing a master loses no slot for good.
  cluster = await startRedisCluster(3, 1);
  // Limits out of the way: this test is about the failover, not about refusing the load.
  const generous = {
    requestsPerMinute: 100_000,
    dailyRequestQuota: 1_000_000,
    costBucketCapacity: 1_000_000,
    costRestorePerSecond: 100_000,
  };
  stack = await startStack({
    users: 10,
    memes: 40,
    redisCluster: cluster,
    routerEnv: { TIERS_JSON: JSON.stringify({ anonymous: generous, free: generous }) },
  });
  routerA = await stack.addRouter({}, log);
  routerB = await stack.addRouter({}, log);
}, 60_000);
afterAll(async () => {
  await stack?.close();
  await cluster?.close();
});

describe('a Redis Cluster master lost and replaced by its replica', () => {
  it('keeps every request served while the replica takes over, then shares caches, limits and invalidations again', async () => {
    const account = await signUp(stack!.routerUrl, 'failover_viewer');
    const onA = routerClient(routerA, { authorization: `Bearer ${account.token}` });
    const onB = routerClient(routerB, { authorization: `Bearer ${account.token}` });
    const QUERY = `query($id: ID!) { meme(id: $id) { id score } }`;
    const memes = await stack!.dbs.memes.query<{ id: string; score: number }>(
      `SELECT id, score FROM memes WHERE origin = 'HUMAN' ORDER BY id LIMIT 20`,
    );

    // Before: an answer cached through A is a hit on B.
    expect((await onA(QUERY, { id: memes[0]!.id })).headers.get('x-cache')).toBe('MISS');
    expect((await onB(QUERY, { id: memes[0]!.id })).headers.get('x-cache')).toBe('HIT');
    expect(fallbacks).toEqual([]);

    // Load on both routers, over keys in every slot range, for as long as the failover takes.
    let failingOver = true;
    const answers: { status: number; ok: boolean; sentAt: number; ms: number }[] = [];
    const load = (async () => {
      for (let round = 0; failingOver || round < 3; round++) {
        const batch = await Promise.all(
          memes.map(async (meme, i) => {
            const sentAt = Date.now();
            const r = await (i % 2 ? onA : onB)<{ meme: { id: string } }>(QUERY, { id: meme.id });
            return {
              status: r.status,
              ok: r.body.data?.meme?.id === meme.id && !r.body.errors,
              sentAt,
              ms: Date.now() - sentAt,
            };
          }),
        );
        answers.push(...batch);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const killedAt = Date.now();
    try {
      await cluster!.killMaster();
    } finally {
      failingOver = false;
    }
    const replacedAt = Date.now();
    await load;
    expect(answers.filter((a) => a.status !== 200 || !a.ok)).toEqual([]);
    // Some of them were asked while the master was gone and before its replica took over.
    expect(answers.filter((a) => a.sentAt >= killedAt && a.sentAt < replacedAt).length).toBeGreaterThan(0);
    expect(fallbacks.length).toBeGreaterThan(0);
    console.log(
      `failover: replica in charge ${replacedAt - killedAt} ms after the kill; ${answers.length} requests, all 200; ` +
        `slowest ${Math.max(...answers.map((a) => a.ms))} ms; over 500 ms: ${answers.filter((a) => a.ms > 500).length}`,
    );

    // After: both routers see Redis again, and what they share works across them.
    await eventually(
      async () => (await redisReadiness(routerA)) === 'ok' && (await redisReadiness(routerB)) === 'ok',
      10_000,
      100,
    );
    const [fresh] = await stack!.dbs.memes.query<{ id: string; score: number }>(
      `SELECT id, score FROM memes WHERE origin = 'HUMAN' ORDER BY id OFFSET 30 LIMIT 1`,
    );
    await eventually(async () => (await onA(QUERY, { id: fresh!.id })).headers.get('x-cache') !== null, 5_000, 100);
    await eventually(async () => (await onB(QUERY, { id: fresh!.id })).headers.get('x-cache') === 'HIT', 5_000, 100);
    // Pub/sub survived the lost node: a vote through B drops A's copy.
    await onB(`mutation($id: ID!) { vote(memeId: $id, value: 1) { score } }`, { id: fresh!.id });
    await eventually(
      async () =>
        (await onA<{ meme: { score: number } }>(QUERY, { id: fresh!.id })).body.data!.meme.score === fresh!.score + 1,
      5_000,
      100,
    );
    // The request limit is counted in the cluster again: both routers report the same window.
    const remaining = async (client: typeof onA) =>
      Number((await client(`{ templates { id } }`)).headers.get('x-ratelimit-remaining'));
    const [first, second] = [await remaining(onA), await remaining(onB)];
    expect(second).toBe(first - 1);
  }, 60_000);
});
