import { GraphQLError } from 'graphql';
import { ErrorCode } from '@memegraph/service-kit';
import { mutationPurges } from '../cache/rules';
import { rememberSerialized } from '../cache/serializedData';
import type { CachedResponse, ResponseCache } from '../cache/store';
import type { RequestFingerprints } from './cachedAnswer';
import { learn, serveCached } from './responseCache';
import type { Stage } from './runner';
import type { OperationState } from './state';
import { markCache } from '../context';

const hasDownstreamFailure = (errors: readonly GraphQLError[] | undefined) =>
  !!errors?.some(
    (e) => e.extensions?.code === ErrorCode.DOWNSTREAM_SERVICE_ERROR || typeof e.extensions?.serviceName === 'string',
  );

/**
 * The response cache's one write point, after execution: a complete answer
 * (no errors, data) to a cacheable query is stored, serialized once, before
 * it is sent (so every router finds it once a client has seen it), learnt
 * for the cached-answer stage, and handed to the misses of its key that
 * waited. A subgraph failure with a recent answer in hand serves that
 * answer instead (stale-if-error). A mutation purges what it changed
 * (cache/rules.ts), on every router and, when configured, the CDN.
 */
export function createStore(deps: {
  responseCache: ResponseCache;
  fingerprints: RequestFingerprints;
  entitlementMutations: ReadonlySet<string>;
  now?: () => number;
}): Stage<OperationState> {
  const now = deps.now ?? Date.now;
  return {
    name: 'store',
    async run(state) {
      const result = state.result!;
      const { cacheKey, cached } = state;
      if (cacheKey && cached && result.errors?.length && hasDownstreamFailure(result.errors)) {
        // Stale if error: a recent good answer beats a failure, marked as such and kept by no one.
        return serveCached(state, cached, 'STALE', now(), 0);
      }
      if (cacheKey) {
        markCache(state.context.report, 'MISS');
        state.decision.cache = { mark: 'MISS' };
        // Errors and partial results are never cached. Nothing changes the data after this point
        // (no field was removed), so it is stored as it is.
        if (!result.errors?.length && result.data) {
          const json = JSON.stringify(result.data);
          // Apollo writes the answer around these bytes too (cache/serializedData.ts).
          rememberSerialized(result.data, json);
          const entry: CachedResponse = {
            data: json,
            storedAt: now(),
            maxAge: state.cachePolicy.maxAge,
            tags: [...state.tags],
          };
          await deps.responseCache.set(cacheKey, entry);
          learn(state, deps.fingerprints);
          // Those waiting on this key are answered from what was stored, as later requests will be.
          state.lead?.settle(entry);
        }
      }
      if (state.mutationFields.length > 0) {
        // Only what a mutation that happened changed (see mutationPurges).
        const purges = mutationPurges({
          fields: state.analysis.rootFields,
          data: result.data,
          errors: result.errors,
          entityTags: state.tags,
          userId: state.viewer.kind === 'user' ? state.viewer.userId : null,
          entitlementMutations: deps.entitlementMutations,
        });
        for (const purge of purges) await deps.responseCache.purge(purge.tags, { keepStale: purge.keepStale });
      }
    },
  };
}
