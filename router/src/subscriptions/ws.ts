import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { GraphQLError, buildSchema, parse, type ExecutionArgs } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { HttpError, type Logger, type Viewer } from '@memegraph/service-kit';
import type { Opened, Transport } from './index';
import type { SubscriptionRequest } from './operation';

/**
 * graphql-ws runs what onSubscribe hands it: a subscription operation whose
 * events are the router's own stream (the operation itself was checked and
 * prepared against the supergraph by `open`).
 */
const STREAM_SCHEMA = buildSchema('type Query { stream: Boolean } type Subscription { stream: Boolean }');
const STREAM_DOCUMENT = parse('subscription { stream }');

/** WebSocket close code 1012: the server restarts; clients reconnect. */
const SERVICE_RESTART = 1012;

/** Credentials a WebSocket client sends in `connectionParams` (browsers cannot set headers on the upgrade). */
function credentialHeaders(params: unknown): Record<string, string> | null {
  if (!params || typeof params !== 'object') return null;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(params as Record<string, unknown>)) {
    const key = name.toLowerCase();
    if (typeof value !== 'string') continue;
    if (key === 'authorization') headers.authorization = value;
    if (key === 'x-api-key' || key === 'apikey') headers['x-api-key'] = value;
  }
  return Object.keys(headers).length > 0 ? headers : null;
}

/**
 * The upgrade request with the credentials of `connectionParams` when it
 * carries any (else its own headers'), for the identification every
 * request goes through (client address included).
 */
function asRequest(upgrade: IncomingMessage, params: unknown): IncomingMessage {
  const given = credentialHeaders(params);
  if (!given) return upgrade;
  const headers = { ...upgrade.headers };
  delete headers.authorization;
  delete headers['x-api-key'];
  return Object.assign(Object.create(upgrade) as IncomingMessage, { headers: { ...headers, ...given } });
}

/** The close code of a refused identification, as graphql-ws names them. */
const closeCodeOf = (error: HttpError) =>
  error.status === 429 ? CloseCode.TooManyInitialisationRequests : CloseCode.Unauthorized;

/**
 * GraphQL over WebSocket (the graphql-ws protocol) on the HTTP server's
 * upgrade at /graphql. The viewer is identified once per connection, from
 * `connectionParams` (`authorization`, `x-api-key`) or the upgrade's headers;
 * graphql-ws pings every `heartbeatMs` and drops a connection that does not
 * answer. A draining router closes its connections with 1012 (service
 * restart), which graphql-ws clients retry.
 */
export function createWsTransport(deps: {
  identify: (req: IncomingMessage) => Viewer | Promise<Viewer>;
  open: (viewer: Viewer, request: SubscriptionRequest, transport: Transport, clientName?: string) => Promise<Opened>;
  heartbeatMs: number;
  maxConnections: number;
  maxPayloadBytes: number;
  refuseWhen: () => string | null;
  onConnection: (delta: number) => void;
  log: Logger;
}) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: deps.maxPayloadBytes });
  const viewers = new WeakMap<object, Viewer>();
  useServer<Record<string, unknown> | undefined>(
    {
      isProd: true,
      async onConnect(ctx) {
        try {
          viewers.set(ctx, await deps.identify(asRequest(ctx.extra.request, ctx.connectionParams)));
          return true;
        } catch (error) {
          if (!(error instanceof HttpError)) throw error;
          ctx.extra.socket.close(closeCodeOf(error), error.message);
          return false;
        }
      },
      async onSubscribe(ctx, _id, payload): Promise<ExecutionArgs | readonly GraphQLError[]> {
        const viewer = viewers.get(ctx)!;
        // The client's name (trusted documents may hold a named client to its manifest), from the upgrade, as SSE reads it from its request.
        const named = ctx.extra.request.headers['apollographql-client-name'];
        const opened = await deps.open(viewer, { ...payload }, 'ws', typeof named === 'string' ? named : undefined);
        if ('errors' in opened) {
          return opened.errors.map(
            (e) =>
              new GraphQLError((e as { message: string }).message, {
                extensions: (e as { extensions?: Record<string, unknown> }).extensions,
              }),
          );
        }
        return { schema: STREAM_SCHEMA, document: STREAM_DOCUMENT, contextValue: opened.events };
      },
      subscribe: (args) => args.contextValue as AsyncGenerator<never>,
    },
    wss,
    deps.heartbeatMs,
  );
  wss.on('connection', (socket) => {
    deps.onConnection(1);
    socket.once('close', () => deps.onConnection(-1));
  });

  const refuseUpgrade = (socket: Duplex, status: number, reason: string) => {
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  };

  return {
    handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
      if (new URL(req.url ?? '/', 'http://localhost').pathname !== '/graphql')
        return refuseUpgrade(socket, 404, 'Not Found');
      if (deps.refuseWhen()) return refuseUpgrade(socket, 503, 'Service Unavailable');
      if (wss.clients.size >= deps.maxConnections) return refuseUpgrade(socket, 503, 'Service Unavailable');
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    },
    async close(): Promise<void> {
      const closing = [...wss.clients].map(
        (client) => new Promise<void>((resolve) => client.once('close', () => resolve())),
      );
      for (const client of wss.clients) client.close(SERVICE_RESTART, 'The router is restarting: reconnect');
      // A client that does not answer the close is dropped.
      const timer = setTimeout(() => {
        for (const client of wss.clients) client.terminate();
      }, 2_000);
      await Promise.all(closing);
      clearTimeout(timer);
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
