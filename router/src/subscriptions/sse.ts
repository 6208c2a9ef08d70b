import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHandler, type ExecutionResult } from 'graphql-sse';
import { ErrorCode, HttpError, readBody, type Viewer } from '@memegraph/service-kit';
import type { Opened, Transport } from './index';
import type { SubscriptionRequest } from './operation';

/** The header and query parameter of graphql-sse's single connection mode, which this router does not serve. */
const STREAM_TOKEN = 'x-graphql-event-stream-token';

/**
 * A body naming a trusted document by id only (`extensions.persistedQuery`)
 * is given an empty `query`, which graphql-sse requires: `open` reads the
 * document from the manifest.
 */
function byIdOnly(body: string): string {
  try {
    const parsed = JSON.parse(body) as { query?: unknown; extensions?: { persistedQuery?: unknown } } | null;
    if (parsed && typeof parsed === 'object' && parsed.query == null && parsed.extensions?.persistedQuery)
      return JSON.stringify({ ...parsed, query: '' });
  } catch {
    // Not JSON: graphql-sse answers it.
  }
  return body;
}

/**
 * GraphQL over Server-Sent Events, graphql-sse's distinct connections mode:
 * each subscription is one GET or POST whose response is the event stream,
 * which works through HTTP/1 proxies and CDNs. The viewer is identified
 * from the request's headers, as every request is. The stream opens with a
 * `retry:` field, the wait before a client reconnects; graphql-sse sends a
 * comment every 12 seconds, so idle streams stay open through proxies.
 */
export function createSseTransport(deps: {
  identify: (req: IncomingMessage) => Viewer | Promise<Viewer>;
  open: (viewer: Viewer, request: SubscriptionRequest, transport: Transport, clientName?: string) => Promise<Opened>;
  retryMs: number;
  bodyLimitBytes: number;
  headers: Record<string, string>;
  /** Why new streams are refused now (draining), or null. */
  refuseWhen: () => string | null;
}) {
  const streams = new Set<ServerResponse>();
  const handler = createHandler<IncomingMessage, { viewer: Viewer }>({
    async onSubscribe(req, params) {
      const named = req.headers.get('apollographql-client-name');
      const opened = await deps.open(req.context.viewer, { ...params }, 'sse', named ?? undefined);
      // A refusal is the stream's one result: a `next` event with the errors, then `complete`.
      return 'errors' in opened ? ({ data: null, errors: opened.errors } as ExecutionResult) : opened.events;
    },
  });

  return {
    async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
      if (req.method !== 'GET' && req.method !== 'POST') {
        throw new HttpError(405, ErrorCode.BAD_REQUEST, 'Subscribe with GET or POST and Accept: text/event-stream', {
          allow: 'GET, POST, OPTIONS',
        });
      }
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (req.headers[STREAM_TOKEN] !== undefined || url.searchParams.has('token')) {
        throw new HttpError(
          400,
          ErrorCode.BAD_REQUEST,
          "Only graphql-sse's distinct connections mode is served: one request per subscription, without a token",
        );
      }
      const refused = deps.refuseWhen();
      if (refused) {
        throw new HttpError(503, ErrorCode.INTERNAL_SERVER_ERROR, 'This router is shutting down: reconnect', {
          'retry-after': String(Math.max(1, Math.ceil(deps.retryMs / 1000))),
        });
      }
      const viewer = await deps.identify(req);
      const body = req.method === 'POST' ? byIdOnly((await readBody(req, deps.bodyLimitBytes)).toString('utf8')) : null;
      const [payload, init] = await handler({
        method: req.method,
        url: req.url ?? '/',
        headers: {
          get(key) {
            const header = req.headers[key];
            return Array.isArray(header) ? header.join('\n') : header;
          },
        },
        body,
        raw: req,
        context: { viewer },
      });
      if (!payload || typeof payload === 'string') {
        res.writeHead(init.status, init.statusText, { ...deps.headers, ...init.headers }).end(payload);
        return;
      }
      // Proxies that buffer responses (nginx) are asked not to.
      res.writeHead(init.status, init.statusText, { ...deps.headers, ...init.headers, 'x-accel-buffering': 'no' });
      res.write(`retry: ${deps.retryMs}\n\n`);
      streams.add(res);
      const stop = () => void payload.return(undefined);
      res.once('close', stop);
      try {
        for await (const chunk of payload) {
          if (!res.writable) break;
          res.write(chunk);
        }
      } finally {
        streams.delete(res);
        res.off('close', stop);
        if (!res.writableEnded) res.end();
      }
    },
    /** Ends every stream without `complete`: clients reconnect after `retry`, to a router that is not draining. */
    close(): void {
      for (const res of streams) res.end();
    },
    get size() {
      return streams.size;
    },
  };
}
