import type { IncomingMessage } from 'node:http';
import {
  ErrorCode,
  HttpError,
  isJsonContentType,
  readJsonBody,
  type TierLimits,
  type TierTable,
  type Viewer,
} from '@memegraph/service-kit';
import { viewerKey } from '../gateway/pipeline';

export interface Admission {
  viewer: Viewer;
  limits: TierLimits;
  /** The key the viewer's limits, bucket and quota are kept under. */
  viewerKey: string;
  /** The POST body, parsed; undefined for a GET. */
  body: unknown;
  /** Operations the request holds: a batch of N counts N for every limit. */
  operations: number;
}

/**
 * Admission, the request path's first stage: the method, the viewer (whose
 * credentials are checked and throttled by `identify`), the body (type, size,
 * JSON, depth) and a batch's size. `refuse` marks a refusal for the log line
 * and metrics, by tier once the viewer is known; `identified` hears who the
 * viewer is before anything else can refuse the request.
 */
export function createAdmission(deps: {
  identify: (req: IncomingMessage) => Promise<Viewer>;
  tiers: TierTable;
  bodyLimitBytes: number;
}) {
  return async (
    req: IncomingMessage,
    refuse: (error: HttpError, tier: string) => HttpError,
    identified: (viewer: Viewer) => void,
  ): Promise<Admission> => {
    if (req.method !== 'GET' && req.method !== 'POST') {
      throw refuse(
        new HttpError(405, ErrorCode.BAD_REQUEST, 'Use GET or POST', { allow: 'GET, POST, OPTIONS' }),
        'unknown',
      );
    }
    let viewer: Viewer;
    try {
      viewer = await deps.identify(req);
    } catch (error) {
      if (error instanceof HttpError) throw refuse(error, 'unknown');
      throw error;
    }
    identified(viewer);
    const limits = deps.tiers[viewer.tier];
    if (req.method === 'POST' && !isJsonContentType(req.headers['content-type'])) {
      throw refuse(new HttpError(415, ErrorCode.BAD_REQUEST, 'POST bodies must be application/json'), viewer.tier);
    }
    // Its refusals (413, bad JSON, too deep) are protocol errors, answered as such.
    const body = req.method === 'POST' ? await readJsonBody(req, deps.bodyLimitBytes) : undefined;
    if (Array.isArray(body) && body.length > limits.maxBatchSize) {
      throw refuse(
        new HttpError(400, ErrorCode.BATCH_TOO_LARGE, `A batch may hold at most ${limits.maxBatchSize} operations`),
        viewer.tier,
      );
    }
    // A batch that does not fit in what is left is refused whole, and counts nothing (smaller requests may still use the rest).
    const operations = Array.isArray(body) ? Math.max(1, body.length) : 1;
    return { viewer, limits, viewerKey: viewerKey(viewer), body, operations };
  };
}
