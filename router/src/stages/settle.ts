import { GraphQLError, type GraphQLSchema } from 'graphql';
import { changesViewer } from '../cache/httpHeaders';
import type { CostBucket } from '../cost/bucket';
import { actualCost, type CostOptions, type CostResult } from '../cost/calculate';
import type { RouterMetrics } from '../metrics';
import { patchResult } from '../operation/patch';
import type { SchemaPolicy } from '../policy/schemaPolicy';
import type { UsageMeter } from '../usage/meter';
import type { ViewerCache } from '../viewer/cache';
import type { Stage } from './runner';
import type { OperationState } from './state';

const CHARGE_NOTHING: CostResult = { cost: 0, nodeCount: 0 };

/**
 * Settles every operation, however it was answered: the one refund of what
 * the take over-charged (all of it for an answer from the cache, what the
 * actual cost did not use after execution), the cost extension, the removed
 * fields put back (the router's own values, or nulls with errors,
 * operation/patch.ts), metering, and entitlement changes reaching every
 * router (viewer/cache.ts).
 */
export function createSettle(deps: {
  schema: () => GraphQLSchema;
  policy: () => SchemaPolicy;
  bucket: CostBucket;
  usage: UsageMeter;
  viewerCache: ViewerCache;
  entitlementMutations: ReadonlySet<string>;
  cost: CostOptions;
  metrics: RouterMetrics;
  now?: () => number;
}): Stage<OperationState> {
  const now = deps.now ?? Date.now;
  return {
    name: 'settle',
    always: true,
    async run(state) {
      const { outcome, viewer, limits, estimate } = state;
      const result = state.result ?? {};
      const actual =
        outcome === 'executed' && result.data
          ? actualCost(
              {
                schema: deps.schema(),
                policy: deps.policy(),
                document: state.plan.document,
                operationName: state.rc.operationName,
                variables: state.variables,
                data: result.data,
              },
              deps.cost,
            )
          : CHARGE_NOTHING;
      const refund = state.charged - actual.cost;
      const bucket = refund > 0 ? await deps.bucket.refund(state.bucketKey, refund, state.bucketLimits) : state.bucket;
      if (!bucket) {
        // Refused before demand control (the operation, its variables): no cost to tell.
        state.result = result;
        return;
      }
      const cost = {
        requestedQueryCost: estimate.cost,
        actualQueryCost: actual.cost,
        throttleStatus: {
          maximumAvailable: limits.costBucketCapacity,
          currentlyAvailable: Math.floor(bucket.available),
          restoreRate: limits.costRestorePerSecond,
        },
      };
      const stale = state.decision.cache?.mark === 'STALE' ? { stale: true } : {};
      if (outcome === 'refused' || outcome === 'cached') {
        state.result = { ...result, extensions: { cost, ...stale } };
      } else {
        // Put the removed fields back: the router's own values (rateLimit), or nulls with errors.
        const remaining = bucket.available;
        const rateLimit = {
          cost: estimate.cost,
          limit: limits.costBucketCapacity,
          remaining: Math.floor(remaining),
          used: Math.ceil(limits.costBucketCapacity - remaining),
          resetAt: new Date(
            now() + ((limits.costBucketCapacity - remaining) / limits.costRestorePerSecond) * 1000,
          ).toISOString(),
          nodeCount: estimate.nodeCount,
        };
        const patched = patchResult(result.data, [
          ...state.removals,
          ...state.routerFields.map((f) => ({ ...f, value: rateLimit })),
        ]);
        const errors = [
          ...(result.errors ?? []),
          ...patched.errors.map((e) => new GraphQLError(e.message, { path: e.path, extensions: e.extensions })),
        ];
        state.result =
          outcome === 'dryRun'
            ? { data: patched.data ?? undefined, extensions: { cost } }
            : {
                data: patched.data,
                ...(errors.length ? { errors } : {}),
                extensions: { ...result.extensions, cost },
              };
        if (state.rateLimited && patched.data && Object.values(patched.data).every((v) => v === null)) {
          // Nothing was served: every field asked for was over its limit.
          state.decision.status = 429;
          state.decision.retryAfter = 60;
        }
      }
      if (outcome === 'executed') {
        // Only what the response cache would keep may be kept by others.
        state.decision.keep = {
          maxAgeLeft: state.cacheKey ? state.cachePolicy.maxAge : 0,
          tags: [...state.tags],
          policy: state.cachePolicy,
          changesViewer: changesViewer(state.mutationFields, deps.entitlementMutations),
        };
      }
      if (outcome !== 'executed' && outcome !== 'cached') return;
      deps.metrics.cost.observe({ tier: viewer.tier }, estimate.cost);
      // Metering, and entitlement changes reaching every router.
      if (viewer.kind === 'user') {
        await deps.usage.record(viewer.userId, actual.cost);
        if (outcome === 'executed' && state.mutationFields.some((name) => deps.entitlementMutations.has(name)))
          await deps.viewerCache.invalidateUser(viewer.userId);
      }
    },
  };
}
