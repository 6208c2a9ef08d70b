import { HttpError } from '@memegraph/service-kit';
import { limitOutcome, requestCheck, type RequestLimits } from '../limits/requestLimits';
import type { RouterMetrics } from '../metrics';
import { RequestFingerprints } from './cachedAnswer';
import type { Stage } from './runner';
import { refuse, type RequestState } from './state';

/**
 * Request limits, per viewer and tier, shared by every router, in one Redis
 * round trip (limits/requestLimits.ts): the per-minute window and the day's
 * quota, and, for a request of one operation the router answered from the
 * response cache before (known by its fingerprint), the cost bucket's check
 * for its estimate. A refusal the earlier stages kept (trusted documents,
 * operation limits) is answered here, once the limits counted it. Every
 * answer from here on carries the rate headers.
 */
export function createRequestLimits(deps: {
  limits: RequestLimits;
  fingerprints: RequestFingerprints;
  /** Headers every GraphQL answer carries (CORS). */
  headers: Record<string, string>;
  metrics: RouterMetrics;
}): Stage<RequestState> {
  return {
    name: 'requestLimits',
    async run(state) {
      const { sent, viewer, limits, operations } = state;
      const fingerprint = sent && RequestFingerprints.of(sent, viewer);
      const known = fingerprint ? deps.fingerprints.get(fingerprint) : undefined;
      state.fingerprint = fingerprint;
      state.cachedOperation = known;
      const checked = await deps.limits(
        requestCheck(
          state.viewerKey,
          limits,
          operations,
          known && {
            capacity: limits.costBucketCapacity,
            restorePerSecond: limits.costRestorePerSecond,
            points: known.cost,
          },
        ),
      );
      const { rateHeaders, refusal } = limitOutcome(checked, limits, operations);
      if (refusal) throw refuse(state, deps.metrics, refusal);
      const { refused } = state;
      if (refused) {
        throw refuse(
          state,
          deps.metrics,
          new HttpError(
            refused.status,
            refused.code,
            refused.message,
            { ...refused.headers, ...rateHeaders },
            refused.extensions,
          ),
        );
      }
      state.held = checked.bucket;
      // Object.assign, not spreads: V8 copies a second spread into a literal through its slow path (2 us here).
      const headers = Object.assign({}, deps.headers, rateHeaders);
      headers['x-request-id'] = state.report.requestId;
      state.headers = headers;
    },
  };
}
