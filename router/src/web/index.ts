import type { IncomingMessage, ServerResponse } from 'node:http';
import { createExplorer } from './explorer';
import { createGallery } from './gallery';
import { createStatusBoard, createStatusPage, type StatusBoardOptions } from './status';

export { AI_STATUS_QUERY, type AiStatusReport } from './status';

/** Three minutes of history at the default two-second sampling. */
const STATUS_HISTORY = 90;

/**
 * What the router shows a browser, all from its own files: the GraphiQL
 * explorer at `GET /graphql`, the status page at `/status`, and the
 * gallery app at `/`.
 */
export function createWebRoutes(
  options: Omit<StatusBoardOptions, 'history'> & { introspection: boolean; galleryDir?: string },
) {
  // The explorer reads the schema by introspection: with introspection off there is nothing to explore.
  const explorer = options.introspection ? createExplorer({ endpoint: '/graphql' }) : null;
  const board = createStatusBoard({ ...options, history: STATUS_HISTORY });
  const statusPage = createStatusPage();
  const gallery = createGallery({ dir: options.galleryDir, introspection: options.introspection });

  return {
    /** A browser's `GET /graphql` with no operation gets the explorer; true when it was sent. */
    async explorer(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
      if (!explorer?.wants(req, url)) return false;
      await explorer.sendPage(req, res);
      return true;
    },
    /** Every other browser route; false when none matches. */
    async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      const { pathname } = url;
      if (pathname === '/status') {
        await statusPage.sendPage(req, res);
        return true;
      }
      if (pathname === '/status.json') {
        await board.sendReport(req, res);
        return true;
      }
      if (pathname.startsWith('/status/')) return statusPage.sendAsset(req, res, pathname);
      if (pathname.startsWith('/explorer/')) return explorer ? explorer.sendAsset(req, res, pathname) : false;
      return gallery.send(req, res, url);
    },
    stop: () => board.stop(),
  };
}
