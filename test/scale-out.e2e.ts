import { afterAll, beforeAll, describe, it } from 'vitest';
import { expectSharedState, startScaleOut, type ScaleOut } from './support/scaleOut';

let scaled: ScaleOut;

beforeAll(async () => {
  scaled = await startScaleOut();
});
afterAll(() => scaled?.close());

describe('two routers and two replicas of the memes subgraph, one Redis and one PostgreSQL', () => {
  it('share request limits, caches, invalidation, entitlement changes, persisted queries and usage', async () => {
    await expectSharedState(scaled);
  });
});
