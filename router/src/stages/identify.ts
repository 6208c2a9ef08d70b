import type { IncomingMessage } from 'node:http';
import { ErrorCode, HttpError, type TierTable, type Viewer } from '@memegraph/service-kit';
import { viewerKey } from '../limits/keys';
import type { RouterMetrics } from '../metrics';
import type { Stage } from './runner';
import { refuse, type RequestState } from './state';

/**
 * The request path's first stage: the method (GET or POST, else 405), then
 * the viewer: anonymous (by client address), a session token or an API key,
 * whose credentials `identify` checks and throttles per address
 * (viewer/identify.ts). Who the viewer is is known to the log line before
 * anything else can refuse the request.
 */
export function createIdentify(deps: {
  identify: (req: IncomingMessage) => Viewer | Promise<Viewer>;
  tiers: TierTable;
  metrics: RouterMetrics;
}): Stage<RequestState> {
  return {
    name: 'identify',
    // Without a promise for an anonymous request, whose viewer is known at once.
    run(state) {
      const { req } = state;
      if (req.method !== 'GET' && req.method !== 'POST') {
        throw refuse(
          state,
          deps.metrics,
          new HttpError(405, ErrorCode.BAD_REQUEST, 'Use GET or POST', { allow: 'GET, POST, OPTIONS' }),
        );
      }
      const refused = (error: unknown): never => {
        if (error instanceof HttpError) throw refuse(state, deps.metrics, error);
        throw error;
      };
      const identified = (viewer: Viewer) => {
        state.viewer = viewer;
        state.who = { id: viewer.kind === 'user' ? viewer.userId : 'anonymous', tier: viewer.tier };
        state.limits = deps.tiers[viewer.tier];
        state.viewerKey = viewerKey(viewer);
      };
      let viewer: Viewer | Promise<Viewer>;
      try {
        viewer = deps.identify(req);
      } catch (error) {
        return refused(error);
      }
      if (viewer instanceof Promise) return viewer.then(identified, refused);
      identified(viewer);
    },
  };
}
