import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisCluster, type LocalRedisCluster } from './support/redisCluster';
import { expectSharedState, startScaleOut, type ScaleOut } from './support/scaleOut';

let cluster: LocalRedisCluster | undefined;
let scaled: ScaleOut | undefined;

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  scaled = await startScaleOut({ redisCluster: cluster });
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
});
