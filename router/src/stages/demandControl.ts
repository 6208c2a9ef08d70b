import { GraphQLError, type GraphQLSchema } from 'graphql';
import { LRUCache } from 'lru-cache';
import { ErrorCode } from '@memegraph/service-kit';
import type { CostBucket, BucketState } from '../cost/bucket';
import { estimateCost, type CostOptions, type CostResult } from '../cost/calculate';
import type { RouterMetrics } from '../metrics';
import type { SchemaPolicy } from '../policy/schemaPolicy';
import { argumentValues } from './analysis';
import type { Plans } from './plans';
import type { Stage } from './runner';
import { reject, type OperationState, type Plan } from './state';

/** Estimates are kept for documents and variables up to this size; larger ones are costed each time. */
const MAX_ESTIMATE_KEY = 4_096;

export interface DemandControlStage extends Stage<OperationState> {
  clear(): void;
}

/** THROTTLED: the bucket lacks the estimate. Retry-After says when it will hold it. */
export function throttled(state: OperationState, metrics: RouterMetrics, refused: BucketState): void {
  reject(state, metrics, ErrorCode.THROTTLED);
  const retryAfter = Math.max(1, Math.ceil(refused.retryAfterMs / 1000));
  state.decision.retryAfter = retryAfter;
  state.bucket = refused;
  state.answer('refused', {
    errors: [
      new GraphQLError(
        `Cost budget spent: the operation needs ${state.estimate.cost} points, ${Math.floor(refused.available)} are left`,
        { extensions: { code: ErrorCode.THROTTLED, retryAfterSeconds: retryAfter } },
      ),
    ],
  });
}

/**
 * Demand control on what would actually run (the document without the
 * removed fields): the estimate (cost/calculate.ts, kept per document,
 * operation and variables), the tier's maximum, then the cost bucket's take
 * of the estimate, or, for GitHub's dryRun, a look that takes nothing. What
 * was taken and not used is refunded by the settle stage, the one place
 * refunds happen.
 */
export function createDemandControl(deps: {
  schema: () => GraphQLSchema;
  policy: () => SchemaPolicy;
  bucket: CostBucket;
  plans: Plans;
  cost: CostOptions;
  metrics: RouterMetrics;
}): DemandControlStage {
  const { bucket, metrics } = deps;
  const estimates = new LRUCache<string, CostResult>({
    max: 10_000,
    maxSize: 8 * 1024 * 1024,
    sizeCalculation: (_, key) => key.length + 1,
  });
  /** The same document, operation and variables always cost the same. */
  const estimate = (plan: Plan, operationName: string | null, variables: Record<string, unknown>): CostResult => {
    const key = `${plan.queryHash}\0${operationName ?? ''}\0${JSON.stringify(variables)}`;
    const known = estimates.get(key);
    if (known) return known;
    const result = estimateCost(
      { schema: deps.schema(), policy: deps.policy(), document: plan.document, operationName, variables },
      deps.cost,
    );
    if (key.length <= MAX_ESTIMATE_KEY) estimates.set(key, result);
    return result;
  };

  return {
    name: 'demandControl',
    clear: () => estimates.clear(),
    async run(state) {
      const { rc, limits, variables, analysis, routerFields } = state;
      state.plan = deps.plans.without(rc, rc.operationName, analysis, state.remove);
      state.estimate = estimate(state.plan, rc.operationName, variables);
      const cost = state.estimate.cost;
      state.context.report.cost = cost;
      if (cost > limits.maxCostPerOperation) {
        reject(state, metrics, ErrorCode.COST_ESTIMATED_TOO_EXPENSIVE);
        state.bucket = await bucket.peek(state.bucketKey, state.bucketLimits);
        return state.answer('refused', {
          errors: [
            new GraphQLError(
              `The operation's estimated cost ${cost} is over this tier's maximum of ${limits.maxCostPerOperation}`,
              {
                extensions: {
                  code: ErrorCode.COST_ESTIMATED_TOO_EXPENSIVE,
                  cost: { estimated: cost, max: limits.maxCostPerOperation },
                },
              },
            ),
          ],
        });
      }
      // GitHub's dryRun: an operation that asks only for its cost runs nothing and is charged nothing;
      // one that asks for anything else as well runs, and is charged, as usual.
      const routerRoots = new Set(routerFields.filter((f) => f.path.length === 1).map((f) => f.path[0]));
      const dryRun =
        routerFields.some((f) => argumentValues(f, deps.schema(), variables).dryRun === true) &&
        analysis.rootFields.every((f) => routerRoots.has(f.responseKey));
      if (dryRun) {
        state.bucket = await bucket.peek(state.bucketKey, state.bucketLimits);
        return state.answer('dryRun', { data: {} });
      }
      const taken = await bucket.take(state.bucketKey, cost, state.bucketLimits);
      if (!taken.allowed) return throttled(state, metrics, taken);
      state.charged = cost;
      state.bucket = taken;
    },
  };
}
