/**
 * The baseline: plain `@apollo/server` + `@apollo/gateway` over the same
 * supergraph and subgraphs as the router, and the same node:http glue
 * (service-kit's `executeGraphQL`). Its one addition is the data source that
 * signs an anonymous viewer, without which the subgraphs refuse every call.
 * No identification, limits, quota, authorization, cost or metering.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApolloGateway, RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { loadRouterConfig } from '@memegraph/router';
import {
  ErrorCode,
  VIEWER_HEADER,
  anonymousViewer,
  clientIp,
  closeServer,
  createHttpServer,
  createLogger,
  executeGraphQL,
  listen,
  readJsonBody,
  secretKey,
  sendError,
  signViewer,
} from '@memegraph/service-kit';
// Not part of the router's public API; imported rather than copied so the
// baseline plans from byte-for-byte the supergraph the router plans from.
import { loadSupergraph } from '../../router/src/gateway/supergraph';
import { runBenchChild } from '../lib/child';

interface BaselineContext {
  /** Signed once per request, on first use, as the router does. */
  signedViewer: () => Promise<string>;
}

class AnonymousViewerDataSource extends RemoteGraphQLDataSource<BaselineContext> {
  override async willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<BaselineContext>): Promise<void> {
    // Schema loads and health checks carry no request context.
    if (!('signedViewer' in context)) return;
    request.http?.headers.set(VIEWER_HEADER, await context.signedViewer());
  }
}

// The router's own configuration, for the supergraph path, subgraph URLs and signing secret.
const config = loadRouterConfig();

await runBenchChild(async () => {
  const log = createLogger('gateway', config.logLevel);
  const supergraph = await loadSupergraph(config.supergraphPath, config.subgraphUrls);
  const signingKey = secretKey(config.signingSecret);
  const apollo = new ApolloServer<BaselineContext>({
    gateway: new ApolloGateway({
      supergraphSdl: supergraph.gatewaySdl,
      buildService: ({ name, url }) => new AnonymousViewerDataSource({ url: supergraph.subgraphUrls.get(name) ?? url }),
    }),
    stopOnTerminationSignals: false,
  });
  await apollo.start();

  const context = (req: IncomingMessage) => async (): Promise<BaselineContext> => {
    let signed: Promise<string> | undefined;
    const viewer = anonymousViewer(clientIp(req));
    return { signedViewer: () => (signed ??= signViewer(viewer, signingKey)) };
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (new URL(req.url ?? '/', 'http://localhost').pathname !== '/graphql') return sendError(res, 404, ErrorCode.NOT_FOUND, 'Not found');
    const body = req.method === 'POST' ? await readJsonBody(req, config.bodyLimitBytes) : undefined;
    await executeGraphQL(apollo, req, res, { body, context: context(req) });
  };
  const httpServer = createHttpServer(handle, { log });
  const url = await listen(httpServer, 0, config.host);

  return {
    info: { url: `${url}/graphql` },
    httpServers: [httpServer],
    async close() {
      await closeServer(httpServer);
      await apollo.stop();
    },
  };
});
