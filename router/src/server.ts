import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { printSchema } from 'graphql';
import {
  ErrorCode,
  HttpError,
  closeServer,
  createHttpServer,
  createInternalClient,
  executeGraphQL,
  listen,
  readJsonBody,
  secretKey,
  sendError,
  sendJson,
  type Logger,
} from '@memegraph/service-kit';
import type { RouterConfig } from './config';
import { createRouterContext, type RouterContext } from './context';
import { SignedViewerDataSource } from './datasource';
import { formatRouterError, statusFromErrors } from './errors';
import { loadSupergraph } from './supergraph';
import { createViewerIdentifier } from './viewer';

export interface Router {
  httpServer: http.Server;
  listen(port: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers':
    'content-type, accept, authorization, x-api-key, apollo-require-preflight, x-apollo-operation-name, apollographql-client-name, apollographql-client-version',
  'access-control-max-age': '600',
};

/** The router: Apollo Server over @apollo/gateway, behind Memegraph's own HTTP edge. */
export async function createRouter(config: RouterConfig, log: Logger): Promise<Router> {
  const supergraph = await loadSupergraph(config.supergraphPath, config.subgraphUrls);
  const urlOf = (name: string) => {
    const url = supergraph.subgraphUrls.get(name);
    if (!url) throw new Error(`The supergraph has no subgraph named ${name}`);
    return url;
  };

  const gateway = new ApolloGateway({
    supergraphSdl: supergraph.gatewaySdl,
    buildService: ({ name, url }) => new SignedViewerDataSource(name, supergraph.subgraphUrls.get(name) ?? url!),
  });
  const schemaHolder: { sdl?: string } = {};
  const apollo = new ApolloServer<RouterContext>({
    gateway,
    introspection: config.introspection,
    csrfPrevention: true,
    // main.ts drains the process itself (drainOnSignal).
    stopOnTerminationSignals: false,
    includeStacktraceInErrorResponses: false,
    formatError: formatRouterError(log),
    plugins: [
      statusFromErrors,
      {
        async serverWillStart() {
          return {
            schemaDidLoadOrUpdate({ apiSchema }) {
              schemaHolder.sdl = printSchema(apiSchema);
            },
          };
        },
      },
    ],
  });
  await apollo.start();

  const signingKey = secretKey(config.signingSecret);
  const identify = createViewerIdentifier({
    jwtSecret: config.jwtSecret,
    tiers: config.tiers,
    call: createInternalClient({ caller: 'router', signingSecret: config.signingSecret }),
    viewerUrl: new URL('/internal/viewer', urlOf(config.viewerSubgraph)),
  });
  const imagesOrigin = new URL(urlOf(config.imagesSubgraph)).origin;

  const handleGraphQL = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'POST') {
      return sendError(res, 405, ErrorCode.BAD_REQUEST, 'Use GET or POST', { allow: 'GET, POST, OPTIONS', ...CORS_HEADERS });
    }
    const viewer = await identify(req);
    const body = req.method === 'POST' ? await readJsonBody(req, config.bodyLimitBytes) : undefined;
    await executeGraphQL(apollo, req, res, body, async () => createRouterContext(viewer, signingKey), CORS_HEADERS);
  };

  const proxyImage = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const upstream = await fetch(new URL(url.pathname + url.search, imagesOrigin), {
      headers: req.headers['if-none-match'] ? { 'if-none-match': String(req.headers['if-none-match']) } : {},
      signal: AbortSignal.timeout(10_000),
    }).catch(() => null);
    if (!upstream) return sendError(res, 502, ErrorCode.DOWNSTREAM_SERVICE_ERROR, 'The images service failed to answer');
    const headers: Record<string, string> = {};
    for (const name of ['content-type', 'cache-control', 'etag', 'content-length']) {
      const value = upstream.headers.get(name);
      if (value) headers[name] = value;
    }
    res.writeHead(upstream.status, headers);
    if (upstream.body) Readable.fromWeb(upstream.body).pipe(res);
    else res.end();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'OPTIONS') {
      res.writeHead(204, CORS_HEADERS).end();
      return;
    }
    switch (url.pathname) {
      case '/graphql':
        return handleGraphQL(req, res);
      case '/health':
        return sendJson(res, 200, { status: 'ok' });
      case '/schema.graphql':
        if (!config.introspection || !schemaHolder.sdl) break;
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', ...CORS_HEADERS }).end(schemaHolder.sdl);
        return;
    }
    if (url.pathname.startsWith('/images/') && req.method === 'GET') return proxyImage(req, res, url);
    sendError(res, 404, ErrorCode.NOT_FOUND, 'Not found: GraphQL is served at /graphql');
  };

  const httpServer = createHttpServer(handle, { log, headers: CORS_HEADERS });

  return {
    httpServer,
    listen: (port, host) => listen(httpServer, port, host),
    async close() {
      await closeServer(httpServer);
      await apollo.stop();
    },
  };
}
