import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, signUp } from './support/accounts';
import { routerClient } from './support/client';
import { redisReadiness } from './support/redis';
import { startRedisCluster, type LocalRedisCluster } from './support/redisCluster';
import { expectSharedState, startScaleOut, type ScaleOut } from './support/scaleOut';
import { GENEROUS_ANONYMOUS } from './support/stack';

let cluster: LocalRedisCluster | undefined;
let scaled: ScaleOut | undefined;

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  // AI jobs go through BullMQ on the same cluster, run by a worker in this process.
  scaled = await startScaleOut({ redisCluster: cluster, ai: { queue: 'bullmq' } });
});
afterAll(async () => {
  await scaled?.close();
  await cluster?.close();
});

describe('two routers and two replicas of the memes subgraph on a three-node Redis Cluster (REDIS_CLUSTER_NODES)', () => {
  it('share request limits, caches, invalidation, entitlement changes, persisted queries and usage, with keys on more than one master', async () => {
    await expectSharedState(scaled!);
    // The keys really are spread over the cluster, not kept in one slot by an overly broad hash tag.
    const perMaster = await cluster!.keysPerMaster(scaled!.stack.redisPrefix);
    expect(perMaster).toHaveLength(3);
    expect(perMaster.filter((count) => count > 0).length).toBeGreaterThan(1);
  });

  it('queue AI generations with BullMQ on the cluster: a finished meme reaches the feed cached on the other router, and key health is reported', async () => {
    const { stack, routerA, routerB, fallbacks } = scaled!;
    // The anonymous limit of routers A and B is spent by now; this router shares their Redis with more room.
    const entrance = await stack.addRouter({ TIERS_JSON: GENEROUS_ANONYMOUS });
    const premium = await signUp(entrance, 'cluster_generator', 'PREMIUM');
    const onA = routerClient(routerA, { authorization: `Bearer ${premium.token}` });
    const onB = routerClient(routerB, { authorization: `Bearer ${premium.token}` });

    const FEED = `{ feed(first: 5) { edges { node { id } } } }`;
    await onA(FEED);
    expect((await onA(FEED)).headers.get('x-cache')).toBe('HIT');
    const started = await onB<{ generateMeme: { id: string } }>(
      `mutation { generateMeme(input: { prompt: "sharded all the way down" }) { id } }`,
    );
    expect(started.body.errors).toBeUndefined();
    const done = await onB<{ generation: { status: string; meme: { id: string } } }>(
      `query($id: ID!) { generation(id: $id, waitSeconds: 10) { status meme { id } } }`,
      { id: started.body.data!.generateMeme.id },
    );
    expect(done.body.data!.generation.status).toBe('SUCCEEDED');
    const memeId = done.body.data!.generation.meme.id;
    // The worker asks every router, through the cluster's pub/sub, to purge the lists the meme belongs in.
    await eventually(async () =>
      (await onA<{ feed: { edges: { node: { id: string } }[] } }>(FEED)).body.data!.feed.edges.some(
        (e) => e.node.id === memeId,
      ),
    );

    const admin = await signUp(entrance, 'cluster_operator');
    await stack.dbs.users.query(`UPDATE users SET is_admin = true WHERE id = $1`, [admin.id]);
    const asAdmin = routerClient(routerA, { authorization: `Bearer ${admin.token}` });
    const status = () =>
      asAdmin<{ aiStatus: { succeeded: number; keys: { successes: number }[] } }>(
        `{ aiStatus { succeeded keys { successes } } }`,
      );
    expect((await status()).body.data!.aiStatus.succeeded).toBe(1);
    // Workers report their keys' health every five seconds.
    await eventually(
      async () => (await status()).body.data!.aiStatus.keys.reduce((sum, key) => sum + key.successes, 0) === 1,
      7_000,
      200,
    );
    expect(fallbacks).toEqual([]);
  });

  it('keep serving while the whole cluster is down, and share caches and invalidations again once it is back', async () => {
    const { stack, routerA, routerB } = scaled!;
    const entrance = await stack.addRouter({ TIERS_JSON: GENEROUS_ANONYMOUS });
    const account = await signUp(entrance, 'cluster_outage');
    const onA = routerClient(routerA, { authorization: `Bearer ${account.token}` });
    const onB = routerClient(routerB, { authorization: `Bearer ${account.token}` });
    const QUERY = `query($id: ID!) { meme(id: $id) { id score } }`;
    const [down, back] = await stack.dbs.memes.query<{ id: string; score: number }>(
      `SELECT id, score FROM memes WHERE origin = 'HUMAN' ORDER BY id OFFSET 1 LIMIT 2`,
    );

    await cluster!.stop();
    const served = await onA<{ meme: { id: string } }>(QUERY, { id: down!.id });
    expect(served.status).toBe(200);
    expect(served.body.data!.meme.id).toBe(down!.id);
    expect(await redisReadiness(routerA)).toBe('unavailable');

    await cluster!.start();
    await eventually(
      async () => (await redisReadiness(routerA)) === 'ok' && (await redisReadiness(routerB)) === 'ok',
      10_000,
      100,
    );
    expect((await onA(QUERY, { id: back!.id })).headers.get('x-cache')).toBe('MISS');
    expect((await onB(QUERY, { id: back!.id })).headers.get('x-cache')).toBe('HIT');
    // Router A subscribed again: a vote through B drops A's copy.
    await onB(`mutation($id: ID!) { vote(memeId: $id, value: 1) { score } }`, { id: back!.id });
    await eventually(
      async () =>
        (await onA<{ meme: { score: number } }>(QUERY, { id: back!.id })).body.data!.meme.score === back!.score + 1,
    );
  });
});
