import type { GraphQLSchema } from 'graphql';
import { ErrorCode } from '@memegraph/service-kit';
import type { FieldRateLimiter } from '../limits/fieldRateLimit';
import type { RouterMetrics } from '../metrics';
import { argumentValues } from './analysis';
import type { Plans } from './plans';
import type { Stage } from './runner';
import { reject, type OperationState } from './state';

/**
 * Field-level `@rateLimit`, per occurrence, shared by every router
 * (limits/fieldRateLimit.ts), for every request, hits included: a field over
 * its limit is removed from the plan and answered null with
 * RATE_LIMIT_EXCEEDED, and the answer is then not one the cache keeps.
 */
export function createFieldRateLimits(deps: {
  schema: () => GraphQLSchema;
  fieldLimiter: FieldRateLimiter;
  plans: Plans;
  metrics: RouterMetrics;
}): Stage<OperationState> {
  return {
    name: 'fieldRateLimits',
    async run(state) {
      if (!state.fieldLimited) return;
      for (const field of state.analysis.guarded) {
        if (!field.policy.rateLimit || state.remove.has(field.nodes[0]!)) continue;
        const message = await deps.fieldLimiter(
          {
            viewerKey: state.viewerKey,
            fieldName: `${field.typeName}.${field.fieldName}`,
            args: argumentValues(field, deps.schema(), state.variables),
          },
          field.policy.rateLimit,
        );
        if (message) {
          reject(state, deps.metrics, ErrorCode.RATE_LIMIT_EXCEEDED);
          state.rateLimited = true;
          state.removals.push({ ...field, error: { code: ErrorCode.RATE_LIMIT_EXCEEDED, message } });
          for (const node of field.nodes) state.remove.add(node);
        }
      }
      if (state.rateLimited)
        state.plan = deps.plans.without(state.rc, state.rc.operationName, state.analysis, state.remove);
    },
  };
}
