import type { GatewayExecutor } from '@apollo/server-gateway-interface';
import type { GraphQLSchema } from 'graphql';
import { withoutEntityIds, type EntityShape } from '../cache/entities';
import type { Plans } from './plans';
import type { Stage } from './runner';
import type { OperationState, Plan } from './state';

/**
 * Execution by @apollo/gateway of what is left after the removals (subgraph
 * fetches in gateway/datasource.ts), with entity ids added when the answer
 * will be cached or purges others (cache/entities.ts), taken out again as
 * the answer's tags (the answer copied without them). Nothing is planned or fetched when every root field was
 * removed. With a stale answer in hand, subgraph calls wait only briefly
 * before stale-if-error serves it instead.
 */
export function createExecute(deps: {
  schema: () => GraphQLSchema;
  executor: () => GatewayExecutor;
  plans: Plans;
}): Stage<OperationState> {
  return {
    name: 'execute',
    async run(state) {
      const { rc, analysis, remove, context } = state;
      const tagged = state.cacheKey !== undefined || state.mutationFields.length > 0;
      const executed: Plan & { shape?: EntityShape } = tagged
        ? deps.plans.withIds(deps.schema(), state.plan, rc.operationName)
        : state.plan;
      const removedRoots = new Set(
        analysis.guarded.filter((g) => g.path.length === 1 && remove.has(g.nodes[0]!)).map((g) => g.path[0]),
      );
      const everythingRemoved = analysis.rootFields.every((f) => removedRoots.has(f.responseKey));
      state.outcome = 'executed';
      state.result = everythingRemoved
        ? { data: {} }
        : await deps.executor()({
            ...rc,
            context: state.cached ? { ...context, staleCopy: true } : context,
            document: executed.document,
            queryHash: executed.queryHash,
          });
      if (tagged && state.result.data) {
        // The answer as plain objects without the added keys (see withoutEntityIds), and its tags.
        const { data, tags } = withoutEntityIds(state.result.data, executed.shape);
        state.result = { ...state.result, data };
        state.tags = tags;
      }
    },
  };
}
