import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GraphQLSchema } from 'graphql';
import { ApolloServer, type BaseContext } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { ErrorCode } from './errors';
import {
  HttpError,
  closeServer,
  createHttpServer,
  executeGraphQL,
  listen,
  readJsonBody,
  sendError,
  sendJson,
} from './http';
import type { Db } from './db';
import type { Logger } from './log';
import { LATENCY_BUCKETS, createMetrics, createMetricsGuard, serveMetrics, type Metrics } from './metrics';
import { maskErrors } from './masking';
import { graphqlSpanAttributes } from './tracing';
import { withDbViewer } from './replicas';
import {
  VIEWER_HEADER,
  ViewerSignatureError,
  createViewerVerifier,
  secretKey,
  viewerUserId,
  type Viewer,
} from './viewer';

/** An extra HTTP route of a subgraph (images, internal endpoints). Returns false when it does not match. */
export type Route = (
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  viewer: () => Promise<Viewer>,
) => Promise<boolean>;

export interface SubgraphServerOptions<C extends BaseContext> {
  name: string;
  schema: GraphQLSchema;
  /** Shared with the router; only requests it signed are served. */
  signingSecret: string;
  log: Logger;
  /** Builds the per-request context, DataLoaders included. */
  context: (viewer: Viewer) => C;
  routes?: Route[];
  /** Largest accepted request body, in bytes. Default 1 MiB. */
  bodyLimitBytes?: number;
  /** Runs after the HTTP server has closed (close pools here). */
  onClose?: () => Promise<void>;
  /** Throws when a dependency does not answer; `/ready` reports it. Default: the database (`db`) answers a query. */
  readiness?: () => Promise<void>;
  /** The service's Prometheus registry, for metrics of its own; one is made otherwise. */
  metrics?: Metrics;
  /** The service's database: its replica lag and statement routing go to `/metrics`. */
  db?: Db;
  /** Opens `/metrics` to clients off loopback that send it as a bearer token (`METRICS_TOKEN`); unset: loopback only. */
  metricsToken?: string;
}

export interface SubgraphServer {
  httpServer: http.Server;
  metrics: Metrics;
  /** Counters for metrics and tests. */
  stats: { graphqlRequests: number };
  listen(port: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * A subgraph's HTTP server: `/health`, its own routes, and `/graphql`, which
 * refuses every call that does not carry a valid viewer signature from the router.
 */
export async function createSubgraphServer<C extends BaseContext>(
  options: SubgraphServerOptions<C>,
): Promise<SubgraphServer> {
  const verifyViewer = createViewerVerifier(secretKey(options.signingSecret));
  const bodyLimit = options.bodyLimitBytes ?? 1024 * 1024;
  const apollo = new ApolloServer<C>({
    schema: options.schema,
    // Only the router talks to subgraphs, and it plans from the supergraph file.
    introspection: false,
    includeStacktraceInErrorResponses: false,
    // Each process drains itself (drainOnSignal); Apollo's own handlers would re-raise the signal mid-drain.
    stopOnTerminationSignals: false,
    formatError: maskErrors(options.log),
    // Traces are for Apollo's hosted reporting, which Memegraph does not use. Cache hints are the
    // router's, from the supergraph's @cacheControl (router/src/cache/policy.ts), so the subgraph's
    // own cache-control plugin is off: its willResolveField hook made Apollo wrap every field resolver
    // and ran on every field of every answer (5% of the subgraphs' busy CPU under uncached-cross-subgraph,
    // before the garbage it left).
    // Nobody browses a subgraph: no landing page either.
    plugins: [
      ApolloServerPluginInlineTraceDisabled(),
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginLandingPageDisabled(),
      graphqlSpanAttributes(),
    ],
  });
  await apollo.start();

  const readViewer = async (req: IncomingMessage): Promise<Viewer> => {
    const header = req.headers[VIEWER_HEADER];
    if (typeof header !== 'string' || header.length === 0) {
      throw new HttpError(
        401,
        ErrorCode.UNAUTHENTICATED,
        `Calls to the ${options.name} subgraph must come through the Memegraph router`,
      );
    }
    try {
      return await verifyViewer(header);
    } catch (error) {
      if (error instanceof ViewerSignatureError)
        throw new HttpError(401, ErrorCode.UNAUTHENTICATED, `Refused: ${error.message}`);
      throw error;
    }
  };

  const stats = { graphqlRequests: 0 };
  const metrics = options.metrics ?? createMetrics(options.name);
  const requests = metrics.histogram(
    'subgraph_request_duration_seconds',
    'GraphQL requests served, by outcome',
    ['status'],
    LATENCY_BUCKETS,
  );
  options.db?.instrument(metrics);
  const { db } = options;
  const readiness =
    options.readiness ??
    (db
      ? async () => {
          await db.query('SELECT 1');
        }
      : undefined);
  const metricsGuard = createMetricsGuard({ token: options.metricsToken });
  let draining = false;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/health') return sendJson(res, 200, { status: 'ok', service: options.name });
    if (url.pathname === '/ready') {
      if (draining) return sendJson(res, 503, { status: 'draining', service: options.name });
      try {
        await readiness?.();
        return sendJson(res, 200, { status: 'ready', service: options.name });
      } catch (error) {
        return sendJson(res, 503, { status: 'unavailable', service: options.name, reason: (error as Error).message });
      }
    }
    // Subgraphs believe no X-Forwarded-For: loopback is the socket's peer.
    if (url.pathname === '/metrics') return serveMetrics(req, res, metrics.registry, metricsGuard);
    for (const route of options.routes ?? []) {
      if (await route(req, res, url, () => readViewer(req))) return;
    }
    if (url.pathname !== '/graphql') return sendError(res, 404, ErrorCode.NOT_FOUND, 'Not found');
    const viewer = await readViewer(req);
    stats.graphqlRequests++;
    const timer = requests.startTimer();
    const body = req.method === 'POST' ? await readJsonBody(req, bodyLimit) : undefined;
    // With read replicas, the viewer's reads see their own earlier writes.
    await withDbViewer(viewerUserId(viewer), () =>
      executeGraphQL(apollo, req, res, { body, search: url.search, context: async () => options.context(viewer) }),
    );
    timer({ status: String(res.statusCode) });
  };

  const httpServer = createHttpServer(handle, { log: options.log });

  return {
    httpServer,
    metrics,
    stats,
    listen: (port, host) => listen(httpServer, port, host),
    async close() {
      draining = true;
      await closeServer(httpServer);
      await apollo.stop();
      await options.onClose?.();
    },
  };
}
