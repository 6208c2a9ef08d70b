import { ErrorCode, HttpError, isJsonContentType, readJsonBody } from '@memegraph/service-kit';
import type { RouterMetrics } from '../metrics';
import type { Stage } from './runner';
import { refuse, type RequestState } from './state';

/**
 * Admission: the body (a JSON content type, else 415; its size, 413; valid
 * JSON and not too deep, 400) and a batch's size (the tier's
 * `maxBatchSize`, BATCH_TOO_LARGE). A batch of N counts N operations for
 * every limit.
 */
export function createAdmission(deps: { bodyLimitBytes: number; metrics: RouterMetrics }): Stage<RequestState> {
  const admit = (state: RequestState, body: unknown): void => {
    const { limits } = state;
    if (Array.isArray(body) && body.length > limits.maxBatchSize) {
      throw refuse(
        state,
        deps.metrics,
        new HttpError(400, ErrorCode.BATCH_TOO_LARGE, `A batch may hold at most ${limits.maxBatchSize} operations`),
      );
    }
    state.body = body;
    // A batch that does not fit in what is left is refused whole, and counts nothing (smaller requests may still use the rest).
    state.operations = Array.isArray(body) ? Math.max(1, body.length) : 1;
  };
  return {
    name: 'admission',
    // A GET has no body: admitted without a promise.
    run(state) {
      const { req } = state;
      if (req.method !== 'POST') return admit(state, undefined);
      if (!isJsonContentType(req.headers['content-type'])) {
        throw refuse(
          state,
          deps.metrics,
          new HttpError(415, ErrorCode.BAD_REQUEST, 'POST bodies must be application/json'),
        );
      }
      // Its refusals (413, bad JSON, too deep) are protocol errors, answered as such.
      return readJsonBody(req, deps.bodyLimitBytes).then((body) => admit(state, body));
    },
  };
}
