import { readFileSync } from 'node:fs';
import { Supergraph } from '@apollo/federation-internals';
import type { GatewayGraphQLRequestContext } from '@apollo/server-gateway-interface';
import { getOperationAST, parse } from 'graphql';
import { DEFAULT_TIERS, ErrorCode, type Viewer } from '@memegraph/service-kit';
import { describe, expect, it } from 'vitest';
import type { BucketLimits, BucketState, CostBucket } from '../cost/bucket';
import { prepareForGateway } from '../gateway/supergraph';
import { createRouterMetrics } from '../metrics';
import { SchemaPolicy } from '../policy/schemaPolicy';
import type { UsageMeter } from '../usage/meter';
import type { ViewerCache } from '../viewer/cache';
import { createAnalysis } from './analysis';
import { createDemandControl } from './demandControl';
import { Plans } from './plans';
import { createSettle } from './settle';
import { OperationState } from './state';

const supergraphSdl = readFileSync(new URL('../../../schema/supergraph.graphql', import.meta.url), 'utf8');
const apiSchema = Supergraph.build(prepareForGateway(supergraphSdl)).apiSchema().toGraphQLJSSchema();
const policy = SchemaPolicy.fromSupergraph(supergraphSdl);
const schema = () => apiSchema;
const policyOf = () => policy;
const cost = { defaultListSize: 10 };
const anonymous: Viewer = { kind: 'anonymous', tier: 'anonymous', scopes: [], clientIp: '127.0.0.1' };
const user: Viewer = { kind: 'user', userId: '7', tier: 'free', scopes: [] };

/** A cost bucket in memory that never refills (the clock stands still), recording every call. */
function fakeBucket(level: number): CostBucket & { calls: string[] } {
  const calls: string[] = [];
  const state = (allowed: boolean, retryAfterMs = 0): BucketState => ({ allowed, available: level, retryAfterMs });
  return {
    calls,
    async take(_key: string, points: number) {
      calls.push(`take ${points}`);
      if (points > level) return state(false, 1_500);
      level -= points;
      return state(true);
    },
    async check(_key: string, points: number) {
      calls.push(`check ${points}`);
      return state(points <= level);
    },
    async refund(_key: string, points: number, limits: BucketLimits) {
      calls.push(`refund ${points}`);
      level = Math.min(limits.capacity, level + points);
      return state(true);
    },
    async peek() {
      calls.push('peek');
      return state(true);
    },
  };
}

/** An operation as Apollo hands it to the gateway: parsed, validated, its operation picked. */
function operationState(query: string, viewer: Viewer = anonymous, variables: Record<string, unknown> = {}) {
  const document = parse(query);
  const rc = {
    document,
    operation: getOperationAST(document),
    operationName: getOperationAST(document)?.name?.value ?? null,
    queryHash: `hash:${query}`,
    request: { variables },
    context: { viewer, report: { requestId: 'r' } },
    metrics: {},
  } as unknown as GatewayGraphQLRequestContext;
  return new OperationState(rc, DEFAULT_TIERS);
}

function stages(bucket: CostBucket) {
  const metrics = createRouterMetrics();
  const metered: [string, number][] = [];
  const usage = { record: async (id: string, points: number) => void metered.push([id, points]) };
  const plans = new Plans();
  return {
    metered,
    analysis: createAnalysis({ schema, policy: policyOf, metrics }),
    demandControl: createDemandControl({ schema, policy: policyOf, bucket, plans, cost, metrics }),
    settle: createSettle({
      schema,
      policy: policyOf,
      bucket,
      usage: usage as unknown as UsageMeter,
      viewerCache: { invalidateUser: async () => undefined } as unknown as ViewerCache,
      entitlementMutations: new Set(),
      cost,
      metrics,
      now: () => Date.UTC(2026, 11, 7),
    }),
  };
}

describe('analysis', () => {
  it('reads the operation as it executes and sets aside what the viewer may not see', async () => {
    const { analysis } = stages(fakeBucket(1_000));
    const state = operationState('{ trending(first: 2) { id } me { handle } }');
    await analysis.run(state);
    expect(state.answered).toBe(false);
    expect(state.cachePolicy).toEqual({ maxAge: 30, scope: 'PRIVATE' });
    expect(state.removals.map((r) => [r.path, r.error?.code])).toEqual([]);
    const guarded = operationState('{ trending(first: 2) { id } generation(id: "1") { id } }');
    await analysis.run(guarded);
    expect(guarded.removals.map((r) => [r.path, r.error?.code])).toEqual([
      [['generation'], ErrorCode.UNAUTHORIZED_FIELD_OR_TYPE],
    ]);
    expect(guarded.context.report.rejection).toBe(ErrorCode.UNAUTHORIZED_FIELD_OR_TYPE);
  });

  it('answers an operation it cannot resolve with the error Apollo reports for it', async () => {
    const { analysis } = stages(fakeBucket(1_000));
    const state = operationState('query A { plans { tier } } query B { plans { tier } }');
    await analysis.run(state);
    expect(state.answered).toBe(true);
    expect(state.result?.errors?.map((e) => e.message)).toEqual([
      'Must provide an operation name if the document contains several operations.',
    ]);
  });
});

describe('demand control and settle: one take, one refund', () => {
  const run = async (query: string, level: number, viewer: Viewer = anonymous) => {
    const bucket = fakeBucket(level);
    const path = stages(bucket);
    const state = operationState(query, viewer);
    await path.analysis.run(state);
    await path.demandControl.run(state);
    return { state, bucket, ...path };
  };

  it('takes the estimate; an answer from the cache gives all of it back in settle, and is metered at 0', async () => {
    const { state, bucket, settle, metered } = await run('{ trending(first: 10) { id title } }', 1_000, user);
    expect(state.charged).toBe(state.estimate.cost);
    expect(state.estimate.cost).toBeGreaterThan(0);
    state.answer('cached', { data: { trending: [] } });
    await settle.run(state);
    expect(bucket.calls).toEqual([`take ${state.estimate.cost}`, `refund ${state.estimate.cost}`]);
    expect(state.result?.extensions?.cost).toEqual({
      requestedQueryCost: state.estimate.cost,
      actualQueryCost: 0,
      throttleStatus: { maximumAvailable: 5_000, currentlyAvailable: 1_000, restoreRate: 100 },
    });
    expect(metered).toEqual([['7', 0]]);
  });

  it('an execution that brought no data back is refunded whole, once', async () => {
    const { state, bucket, settle } = await run('{ trending(first: 10) { id } }', 1_000);
    state.outcome = 'executed';
    state.result = { errors: [] };
    await settle.run(state);
    expect(bucket.calls).toEqual([`take ${state.estimate.cost}`, `refund ${state.estimate.cost}`]);
    expect(state.decision.keep?.maxAgeLeft).toBe(0);
  });

  it('a bucket short of the estimate: THROTTLED with Retry-After, nothing taken, nothing refunded', async () => {
    const { state, bucket, settle } = await run('{ trending(first: 10) { id } }', 3);
    expect(state.answered).toBe(true);
    expect(state.result?.errors?.[0]?.extensions?.code).toBe(ErrorCode.THROTTLED);
    expect(state.decision.retryAfter).toBe(2);
    await settle.run(state);
    expect(bucket.calls).toEqual([`take ${state.estimate.cost}`]);
    expect(state.result?.extensions?.cost).toMatchObject({ actualQueryCost: 0 });
  });

  it('over the tier’s maximum: refused before the bucket is asked for anything but its level', async () => {
    const { state, bucket } = await run(
      '{ memes(first: 100) { edges { node { id author { memes(first: 100) { edges { node { id } } } } } } } }',
      1_000,
    );
    expect(state.result?.errors?.[0]?.extensions?.code).toBe(ErrorCode.COST_ESTIMATED_TOO_EXPENSIVE);
    expect(bucket.calls).toEqual(['peek']);
  });

  it('dryRun: costed, nothing run, nothing taken; settle answers the rateLimit field itself', async () => {
    const { state, bucket, settle } = await run('{ rateLimit(dryRun: true) { cost remaining limit } }', 1_000);
    expect(state.outcome).toBe('dryRun');
    await settle.run(state);
    expect(bucket.calls).toEqual(['peek']);
    expect(state.result?.data).toEqual({ rateLimit: { cost: 0, remaining: 1_000, limit: 1_000 } });
  });
});
