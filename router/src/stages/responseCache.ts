import type { GatewayExecutor } from '@apollo/server-gateway-interface';
import type { GraphQLSchema } from 'graphql';
import type { Logger } from '@memegraph/service-kit';
import { withoutEntityIds } from '../cache/entities';
import { responseCacheKey } from '../cache/key';
import { rememberSerialized } from '../cache/serializedData';
import type { Lead, SingleFlight } from '../cache/singleFlight';
import { ageOf, isFresh, isRevalidatable, type CachedResponse, type ResponseCache } from '../cache/store';
import type { RequestFingerprints } from './cachedAnswer';
import type { Plans } from './plans';
import type { Stage } from './runner';
import type { OperationState } from './state';
import { markCache } from '../context';

/** Answers the operation from a cache entry: nothing runs, so nothing is charged (settle refunds what was taken). */
export function serveCached(
  state: OperationState,
  entry: CachedResponse,
  mark: 'HIT' | 'STALE',
  at: number,
  maxAgeLeft?: number,
) {
  const age = ageOf(entry, at);
  markCache(state.context.report, mark);
  state.decision.cache = { mark, age };
  // What browsers and CDNs may keep: the same on a hit as on the miss that stored it, for the time the answer has left.
  state.decision.keep = {
    maxAgeLeft: maxAgeLeft ?? state.cachePolicy.maxAge - age,
    tags: maxAgeLeft === 0 ? [] : entry.tags,
    policy: state.cachePolicy,
    changesViewer: false,
  };
  const data = JSON.parse(entry.data) as Record<string, unknown>;
  // Apollo writes the answer around the stored bytes rather than serializing what was just parsed from them.
  rememberSerialized(data, entry.data);
  state.answer('cached', { data });
}

/** The next request with this fingerprint is answered from the cache before Apollo (stages/cachedAnswer.ts). */
export function learn(state: OperationState, fingerprints: RequestFingerprints): void {
  const { fingerprint } = state.context;
  if (!fingerprint || state.fieldLimited || !state.cacheKey) return;
  fingerprints.remember(fingerprint, {
    documentKey: state.documentKey,
    operationName: state.rc.operationName,
    policy: state.cachePolicy,
    cost: state.estimate.cost,
    sharedKey: state.cachePolicy.scope === 'PRIVATE' ? undefined : state.cacheKey,
  });
}

/**
 * The response cache's one lookup point, for queries whose every field may
 * be cached and that lost no field (to authorization or to a field's rate
 * limit): a fresh answer is served; one past its maxAge within the
 * stale-while-revalidate window is served at once while one refresh of it
 * runs in the background; a miss of a key another request is executing
 * waits for that execution (single flight, cache/singleFlight.ts) and is
 * served what it stored; anything else goes on to execute, keeping a stale
 * entry for stale-if-error. Its one write point is the store stage.
 */
export function createResponseCache(deps: {
  responseCache: ResponseCache;
  flights: SingleFlight;
  /** Concurrent misses of one key wait for one execution (RESPONSE_CACHE_SINGLE_FLIGHT). */
  singleFlight: boolean;
  staleWhileRevalidateSeconds: number;
  fingerprints: RequestFingerprints;
  schema: () => GraphQLSchema;
  executor: () => GatewayExecutor;
  plans: Plans;
  log: Logger;
  now?: () => number;
}): Stage<OperationState> {
  const { responseCache, flights } = deps;
  const now = deps.now ?? Date.now;

  /**
   * Executes a cacheable query again and stores its answer, for stale while
   * revalidate: the request that started it was answered already. Only for
   * operations that lost no field, so the document runs as sent; nothing is
   * stored from an answer with errors.
   */
  const revalidate = async (state: OperationState, cacheKey: string, lead: Lead): Promise<void> => {
    try {
      const { rc } = state;
      const executed = deps.plans.withIds(deps.schema(), rc, rc.operationName);
      const result = await deps.executor()({ ...rc, document: executed.document, queryHash: executed.queryHash });
      if (result.errors?.length || !result.data) return;
      const { data, tags } = withoutEntityIds(result.data, executed.shape);
      const entry: CachedResponse = {
        data: JSON.stringify(data),
        storedAt: now(),
        maxAge: state.cachePolicy.maxAge,
        tags: [...tags],
      };
      await responseCache.set(cacheKey, entry);
      lead.settle(entry);
    } catch (error) {
      deps.log.warn({ err: error }, 'stale answer not refreshed');
    } finally {
      lead.settle(undefined);
    }
  };

  return {
    name: 'responseCache',
    async run(state) {
      const cacheable =
        state.cachePolicy.maxAge > 0 &&
        state.removals.length === 0 &&
        state.routerFields.length === 0 &&
        !state.rateLimited;
      if (!cacheable) return;
      const cacheKey = responseCacheKey({
        documentKey: state.documentKey,
        operationName: state.rc.operationName,
        variables: state.rc.request.variables ?? {},
        viewer: state.viewer,
        viewerKey: state.viewerKey,
        policy: state.cachePolicy,
      });
      state.cacheKey = cacheKey;
      const cached = await responseCache.get(cacheKey);
      const at = now();
      if (cached && isFresh(cached, at)) {
        learn(state, deps.fingerprints);
        return serveCached(state, cached, 'HIT', at);
      }
      if (cached && isRevalidatable(cached, deps.staleWhileRevalidateSeconds, at)) {
        // Stale while revalidate: served at once, as a hit is charged, while one refresh per key runs in the background.
        const refresh = await flights.lead(cacheKey);
        if (refresh) void revalidate(state, cacheKey, refresh);
        return serveCached(state, cached, 'STALE', at);
      }
      // Kept for stale-if-error (see the store stage).
      state.cached = cached;
      if (!deps.singleFlight) return;
      // Single flight: a miss of a key another request is executing waits for that answer and is served
      // it as a hit; the first miss leads (join registers it before anything is awaited, so one does).
      // A key found expired or purged is a wanted one: other routers' misses of it wait for one execution too.
      const flight = await flights.join(cacheKey, { acrossRouters: cached !== undefined });
      if (flight.role === 'lead') {
        state.lead = flight;
        return;
      }
      const shared = await flight.answer;
      // An answer with errors or partial data was not stored: never shared, this request executes on its own.
      if (!shared) return;
      learn(state, deps.fingerprints);
      serveCached(state, shared, 'HIT', now());
    },
  };
}
