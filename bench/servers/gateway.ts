/**
 * The baseline: plain `@apollo/server` + `@apollo/gateway` over the same
 * supergraph and subgraphs as the router, and the same node:http glue
 * (service-kit's `executeGraphQL`). Its one addition is the data source that
 * signs the viewer, without which the subgraphs refuse every call: anonymous,
 * or for `Authorization: Bearer <session token>` the user the token names,
 * with the tier `BENCH_USER_TIERS_JSON` gives them, signed as the router
 * signs (a token reused per viewer). The session token's signature is not
 * checked and nothing is looked up: the bench is the only client.
 * No identification, limits, quota, authorization, cost or metering.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApolloGateway, RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { loadRouterConfig } from '@memegraph/router';
import {
  ErrorCode,
  HttpError,
  TIERS,
  VIEWER_HEADER,
  anonymousViewer,
  closeServer,
  createHttpServer,
  createLogger,
  createViewerSigner,
  executeGraphQL,
  listen,
  readJsonBody,
  secretKey,
  sendError,
  type Tier,
  type Viewer,
} from '@memegraph/service-kit';
// Not part of the router's public API; imported rather than copied so the
// baseline plans from byte-for-byte the supergraph the router plans from.
import { loadSupergraph } from '../../router/src/gateway/supergraph';
import { runBenchChild } from '../lib/child';

interface BaselineContext {
  /** Signed once per request, on first use, as the router does. */
  signedViewer: () => Promise<string>;
}

class ViewerSigningDataSource extends RemoteGraphQLDataSource<BaselineContext> {
  override async willSendRequest({
    request,
    context,
  }: GraphQLDataSourceProcessOptions<BaselineContext>): Promise<void> {
    // Schema loads and health checks carry no request context.
    if (!('signedViewer' in context)) return;
    request.http?.headers.set(VIEWER_HEADER, await context.signedViewer());
  }
}

// The router's own configuration, for the supergraph path, subgraph URLs, signing secret and tier scopes.
const config = loadRouterConfig();
/** The tier of each user the bench sends tokens for, by user id. */
const userTiers = parseUserTiers(process.env.BENCH_USER_TIERS_JSON);

function parseUserTiers(json: string | undefined): ReadonlyMap<string, Tier> {
  if (!json) return new Map();
  const parsed: unknown = JSON.parse(json);
  const tiers: readonly string[] = TIERS;
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    Object.values(parsed).some((tier) => typeof tier !== 'string' || !tiers.includes(tier))
  ) {
    throw new Error('Invalid configuration:\n  BENCH_USER_TIERS_JSON: must be {"<user id>": "<tier>"}');
  }
  return new Map(Object.entries(parsed as Record<string, Tier>));
}

/** The viewer a request names: the user of its bearer token (payload read, signature not checked), or anonymous. */
function viewerOf(req: IncomingMessage): Viewer {
  const authorization = req.headers.authorization;
  if (!authorization) return anonymousViewer(req.socket.remoteAddress ?? 'unknown');
  const payload = /^Bearer [\w-]+\.([\w-]+)\.[\w-]*$/.exec(authorization)?.[1];
  const sub: unknown = payload
    ? (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown }).sub
    : undefined;
  const tier = typeof sub === 'string' ? userTiers.get(sub) : undefined;
  if (typeof sub !== 'string' || !tier)
    throw new HttpError(401, ErrorCode.UNAUTHENTICATED, 'A token for a user the bench did not name');
  return { kind: 'user', userId: sub, tier, scopes: config.tiers[tier].scopes };
}

await runBenchChild(async () => {
  const log = createLogger('gateway', config.logLevel);
  const supergraph = await loadSupergraph(config.supergraphPath, config.subgraphUrls);
  // Signed as the router signs (a token reused per viewer), so the subgraphs do the same work for both.
  const signViewers = createViewerSigner(secretKey(config.signingSecret));
  const apollo = new ApolloServer<BaselineContext>({
    gateway: new ApolloGateway({
      supergraphSdl: supergraph.gatewaySdl,
      buildService: ({ name, url }) => new ViewerSigningDataSource({ url: supergraph.subgraphUrls.get(name) ?? url }),
    }),
    stopOnTerminationSignals: false,
  });
  await apollo.start();

  const context = (viewer: Viewer) => async (): Promise<BaselineContext> => {
    let signed: Promise<string> | undefined;
    return { signedViewer: () => (signed ??= signViewers(viewer)) };
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (new URL(req.url ?? '/', 'http://localhost').pathname !== '/graphql')
      return sendError(res, 404, ErrorCode.NOT_FOUND, 'Not found');
    const viewer = viewerOf(req);
    const body = req.method === 'POST' ? await readJsonBody(req, config.bodyLimitBytes) : undefined;
    await executeGraphQL(apollo, req, res, { body, context: context(viewer) });
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
