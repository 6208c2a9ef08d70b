import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControl } from '@apollo/server/plugin/cacheControl';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { CircuitState } from 'cockatiel';
import { InMemoryLRUCache, type KeyValueCache } from '@apollo/utils.keyvaluecache';
import { printSchema } from 'graphql';
import {
  ErrorCode,
  REQUEST_ID_HEADER,
  closeServer,
  createHttpServer,
  createInternalClient,
  createMetricsGuard,
  createViewerSigner,
  graphqlDocumentsTraced,
  listen,
  secretKey,
  sendError,
  sendJson,
  serveMetrics,
  type Logger,
  type ViewerSigner,
} from '@memegraph/service-kit';
import { BILLING_WEBHOOK_PATH, createBillingWebhook } from './billing/webhook';
import type { RouterConfig } from './config';
import { createClientAddress } from './clientAddress';
import { newReport, type RequestReport, type RouterContext } from './context';
import { EntityCache } from './cache/entityCache';
import { NOT_KEPT_HEADERS, REFUSAL_HEADERS } from './cache/httpHeaders';
import { SharedFlights } from './cache/sharedFlight';
import { stringifyResult } from './cache/serializedData';
import { createCdnPurger } from './cache/cdnPurge';
import { ResponseCache, isFresh } from './cache/store';
import { createCostBucket } from './cost/bucket';
import { formatRouterError } from './errors';
import { KnownOperationTypesRule } from './knownOperationTypes';
import { ReservedNamesRule } from './operation/reservedNames';
import { SignedViewerDataSource } from './gateway/datasource';
import { PipelineGateway } from './gateway/pipeline';
import { loadSupergraph, watchSupergraph, type LoadedSupergraph } from './gateway/supergraph';
import { createFieldRateLimiter } from './limits/fieldRateLimit';
import { viewerKey } from './limits/keys';
import { OperationLimits } from './limits/operationLimits';
import { createRouterMetrics, type RouterMetrics } from './metrics';
import { createWindowCounter } from './limits/requestRate';
import { createRequestLimits, type RequestLimits } from './limits/requestLimits';
import { SchemaPolicy } from './policy/schemaPolicy';
import { createAdmission } from './stages/admission';
import { denial } from './stages/analysis';
import { createApollo } from './stages/apollo';
import { RequestFingerprints, createCachedAnswer } from './stages/cachedAnswer';
import { createIdentify } from './stages/identify';
import { createOperationLimits } from './stages/operationLimits';
import { createPersistedDocuments } from './stages/persistedDocuments';
import { createRequestLimits as createRequestLimitsStage } from './stages/requestLimits';
import { answerHeadPlugin } from './stages/respond';
import { runStages } from './stages/runner';
import { RequestState } from './stages/state';
import { TrustedDocuments } from './persisted/trustedDocuments';
import { RedisKeyValueCache } from './state/keyValueCache';
import { openSharedState, type SharedState } from './state/shared';
import { createUsageMeter, startUsageFlush, type UsageMeter } from './usage/meter';
import { ViewerCache } from './viewer/cache';
import { createViewerIdentifier } from './viewer/identify';
import { createCredentialThrottle } from './viewer/throttle';
import { createSubscriptions } from './subscriptions';
import { AI_STATUS_QUERY, createWebRoutes, type AiStatusReport } from './web';

export interface Router {
  httpServer: http.Server;
  listen(port: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * What every answer carries for a browser on another origin: that it may
 * read the answer, and which of its headers. What a preflight is told (the
 * methods and request headers allowed, and for how long that holds) goes on
 * the OPTIONS answer only: browsers read it nowhere else.
 */
const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers':
    'x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset, retry-after, x-cache, age, x-request-id',
};
const PREFLIGHT_HEADERS = {
  ...CORS_HEADERS,
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers':
    'content-type, accept, authorization, x-api-key, x-request-id, apollo-require-preflight, x-apollo-operation-name, apollographql-client-name, apollographql-client-version',
  'access-control-max-age': '600',
};

/** How long a starting router waits for Redis before it serves without it. */
const REDIS_STARTUP_WAIT_MS = 3_000;
/** The subgraph whose `aiStatus` the status page shows. */
const AI_SUBGRAPH = 'ai';

const BREAKER_GAUGE: Record<CircuitState, number> = {
  [CircuitState.Closed]: 0,
  [CircuitState.HalfOpen]: 1,
  [CircuitState.Open]: 2,
  [CircuitState.Isolated]: 3,
};

/** What the router shares between its request path, its routes and its shutdown. */
interface Platform {
  config: RouterConfig;
  log: Logger;
  /** The running supergraph: swapped when its file changes. */
  supergraph: { current: LoadedSupergraph };
  urlOf: (subgraph: string) => string;
  state: SharedState;
  metrics: RouterMetrics;
  trusted: TrustedDocuments;
  viewerCache: ViewerCache;
  usage: UsageMeter;
  stopUsageFlush: () => Promise<void>;
  responseCache: ResponseCache;
  /** Entities of _entities fetches, by subgraph and selection (ENTITY_CACHE). */
  entityCache?: EntityCache;
  apqCache: KeyValueCache<string>;
  fingerprints: RequestFingerprints;
  cdnPurger: ReturnType<typeof createCdnPurger> | null;
  clientAddress: ReturnType<typeof createClientAddress>;
  identify: ReturnType<typeof createViewerIdentifier>;
  /** Signs the viewer onto subgraph fetches: of requests and of subscription events. */
  signViewers: ViewerSigner;
  /** The checks of an operation's text before it is parsed: of requests and of subscriptions. */
  operationLimits: OperationLimits;
}

/** Shared state, the stores over it and what identifies viewers: everything but Apollo and the routes. */
async function openPlatform(config: RouterConfig, log: Logger): Promise<Platform> {
  const supergraph = { current: await loadSupergraph(config.supergraphPath, config.subgraphUrls) };
  const urlOf = (name: string) => {
    const url = supergraph.current.subgraphUrls.get(name);
    if (!url) throw new Error(`The supergraph has no subgraph named ${name}`);
    return url;
  };
  const state = openSharedState(config.redis, config.redisPrefix, log, {
    commandTimeoutMs: config.redisCommandTimeoutMs,
  });
  // Serve on shared state from the first request: a cluster connection takes a moment to learn the slots.
  if (config.redis && !(await state.connected(REDIS_STARTUP_WAIT_MS))) {
    log.warn(
      { waitedMs: REDIS_STARTUP_WAIT_MS },
      "Redis not ready at start: serving on this instance's own state until it is",
    );
  }
  const trusted = new TrustedDocuments(
    config.trustedDocuments.manifest,
    config.trustedDocuments.mode,
    config.trustedDocuments.byTier,
    log,
    config.trustedDocuments.byClient,
  );
  const metrics = createRouterMetrics({
    knownOperations: trusted.operationNames,
    operationLabels: config.metricsOperationLabels,
  });
  const call = createInternalClient({ caller: 'router', signingSecret: config.signingSecret });
  const viewerCache = new ViewerCache(state, {
    localTtlMs: config.viewerCacheLocalMs,
    sharedTtlMs: 5 * 60_000,
    refusedTtlMs: config.refusedCredentialTtlMs,
  });
  const usage = createUsageMeter(state, call, new URL('/internal/usage', urlOf(config.viewerSubgraph)));
  const cdnPurger = config.cdnPurge ? createCdnPurger({ ...config.cdnPurge, counter: metrics.cdnPurges, log }) : null;
  const clientAddress = createClientAddress(config.trustProxy);
  const entityCache = config.entityCache
    ? new EntityCache(state, SchemaPolicy.fromSupergraph(supergraph.current.sdl), {
        localTtlMs: config.cacheLocalTtlMs,
        onServed: (subgraph, hits, misses) => {
          metrics.entityCacheEntities.inc({ subgraph, result: 'hit' }, hits);
          metrics.entityCacheEntities.inc({ subgraph, result: 'miss' }, misses);
        },
      })
    : undefined;
  return {
    config,
    log,
    supergraph,
    urlOf,
    state,
    metrics,
    trusted,
    viewerCache,
    usage,
    stopUsageFlush: startUsageFlush(usage, config.usageFlushMs, log),
    entityCache,
    responseCache: new ResponseCache(state, {
      entities: entityCache,
      localTtlMs: config.cacheLocalTtlMs,
      staleIfErrorSeconds: config.staleIfErrorSeconds,
      staleWhileRevalidateSeconds: config.staleWhileRevalidateSeconds,
      onLookup: (layer, result) => metrics.cache.inc({ layer, result }),
      onPurge: cdnPurger ? (tags) => cdnPurger.send(tags) : undefined,
    }),
    apqCache: state.redis
      ? new RedisKeyValueCache({ ...state, redis: state.redis }, `${config.redisPrefix}apq:`, config.apqTtlSeconds)
      : new InMemoryLRUCache<string>(),
    fingerprints: new RequestFingerprints(),
    cdnPurger,
    clientAddress,
    signViewers: createViewerSigner(secretKey(config.signingSecret)),
    operationLimits: new OperationLimits(Math.max(...Object.values(config.tiers).map((t) => t.maxTokens))),
    identify: createViewerIdentifier({
      addressOf: clientAddress,
      jwtSecret: config.jwtSecret,
      tiers: config.tiers,
      call,
      viewerUrl: new URL('/internal/viewer', urlOf(config.viewerSubgraph)),
      cache: viewerCache,
      throttle: createCredentialThrottle(state, {
        failuresPerAddress: config.authFailuresPerAddress,
        windowMs: config.authFailureWindowMs,
      }),
    }),
  };
}

/** @apollo/gateway over the watched supergraph file, inside the operation stages (gateway/pipeline.ts). */
function createGateway(platform: Platform, bucket: ReturnType<typeof createCostBucket>): PipelineGateway {
  const { config, log, metrics, supergraph } = platform;
  // @apollo/gateway reports usage to Apollo and probes cloud metadata endpoints unless
  // told not to; Memegraph sends nothing off the machine.
  process.env.APOLLO_TELEMETRY_DISABLED = 'true';
  let stopWatching = () => {};
  const gateway: PipelineGateway = new PipelineGateway(
    new ApolloGateway({
      // Its spans hold the operation's document only when TRACE_GRAPHQL_DOCUMENT says so (docs/tracing.md).
      telemetry: { includeDocument: graphqlDocumentsTraced() },
      // The supergraph file is watched: a new version is swapped in without dropping a request.
      supergraphSdl: async ({ update }) => {
        stopWatching = watchSupergraph(
          config.supergraphPath,
          config.subgraphUrls,
          supergraph.current.sdl,
          (next) => {
            supergraph.current = next;
            const policy = SchemaPolicy.fromSupergraph(next.sdl);
            gateway.setPolicy(policy);
            platform.entityCache?.setPolicy(policy);
            update(next.gatewaySdl);
            log.info({ path: config.supergraphPath }, 'supergraph reloaded');
          },
          (error) =>
            log.error({ err: error, path: config.supergraphPath }, 'supergraph not reloaded; keeping the running one'),
        );
        return { supergraphSdl: supergraph.current.gatewaySdl, cleanup: async () => stopWatching() };
      },
      buildService: ({ name, url }) => {
        metrics.breakers.set({ subgraph: name }, 0);
        return new SignedViewerDataSource(name, supergraph.current.subgraphUrls.get(name) ?? url!, {
          timeoutMs: config.subgraphTimeoutMs,
          breakerThreshold: config.breakerThreshold,
          breakerHalfOpenMs: config.breakerHalfOpenMs,
          staleWaitMs: config.staleIfErrorWaitMs,
          latency: metrics.subgraphLatency,
          dedup: config.subgraphDedup,
          shared: metrics.subgraphFetchesShared,
          entityCache: platform.entityCache,
          onBreakerChange: (subgraph, state) => {
            metrics.breakers.set({ subgraph }, BREAKER_GAUGE[state]);
            log.warn({ subgraph, state: CircuitState[state] }, 'subgraph circuit breaker changed');
          },
        });
      },
    }),
    {
      policy: SchemaPolicy.fromSupergraph(supergraph.current.sdl),
      tiers: config.tiers,
      bucket,
      fieldLimiter: createFieldRateLimiter(platform.state),
      usage: platform.usage,
      viewerCache: platform.viewerCache,
      defaultListSize: config.defaultListSize,
      entitlementMutations: config.entitlementMutations,
      responseCache: platform.responseCache,
      singleFlight: config.responseCacheSingleFlight,
      sharedFlights:
        config.responseCacheSingleFlight && platform.state.redis
          ? new SharedFlights(platform.state, {
              // No execution is held up longer than one subgraph fetch may take.
              lockMs: config.subgraphTimeoutMs,
              read: async (key) => {
                const entry = await platform.responseCache.get(key);
                return entry && isFresh(entry) ? entry : undefined;
              },
            })
          : undefined,
      staleWhileRevalidateSeconds: config.staleWhileRevalidateSeconds,
      fingerprints: platform.fingerprints,
      metrics,
      log,
    },
  );
  return gateway;
}

/** Apollo Server over the gateway; `schema.sdl` follows the API schema for /schema.graphql. */
async function startApollo(platform: Platform, gateway: PipelineGateway, schema: { sdl?: string }) {
  const { config, log } = platform;
  const apollo = new ApolloServer<RouterContext>({
    gateway,
    introspection: config.introspection,
    csrfPrevention: true,
    // Batches are bounded per tier before they reach Apollo.
    allowBatchedHttpRequests: true,
    // Automatic persisted queries: in Redis, so every router knows every hash.
    persistedQueries: { cache: platform.apqCache, ttl: config.apqTtlSeconds },
    // main.ts drains the process itself (drainOnSignal).
    stopOnTerminationSignals: false,
    includeStacktraceInErrorResponses: false,
    validationRules: [KnownOperationTypesRule, ReservedNamesRule],
    formatError: formatRouterError(log),
    // A stored answer's data is written as the bytes the response cache keeps, not serialized again.
    stringifyResult,
    plugins: [
      // Browsers get the router's own explorer (web/), not Apollo's landing page and its CDN.
      ApolloServerPluginLandingPageDisabled(),
      // Caching headers are the router's (stages/respond.ts): Apollo's would call a mutation
      // `public` from its subgraph's hints, and know nothing of credentials.
      ApolloServerPluginCacheControl({ calculateHttpHeaders: false }),
      answerHeadPlugin({ staleWhileRevalidateSeconds: config.staleWhileRevalidateSeconds }),
      {
        async serverWillStart() {
          return {
            schemaDidLoadOrUpdate({ apiSchema }) {
              schema.sdl = printSchema(apiSchema);
            },
          };
        },
      },
    ],
  });
  await apollo.start();
  return apollo;
}

/**
 * The path of one GraphQL request (router/README.md): the request stages in
 * order, then one log line and one latency observation when it is answered.
 */
function createRequestPath(platform: Platform, apollo: ApolloServer<RouterContext>, limits: RequestLimits) {
  const { config, log, metrics, usage, responseCache, fingerprints } = platform;
  const stages = [
    createIdentify({ identify: platform.identify, tiers: config.tiers, metrics }),
    createAdmission({ bodyLimitBytes: config.bodyLimitBytes, metrics }),
    createPersistedDocuments({ trusted: platform.trusted, apqCache: platform.apqCache }),
    createOperationLimits({ operationLimits: platform.operationLimits }),
    createRequestLimitsStage({
      limits,
      fingerprints,
      headers: CORS_HEADERS,
      metrics,
    }),
    createCachedAnswer({
      responseCache,
      usage,
      metrics,
      staleWhileRevalidateSeconds: config.staleWhileRevalidateSeconds,
    }),
    createApollo({ apollo, signViewers: platform.signViewers, metrics }),
  ];

  /** One JSON log line and one latency observation per GraphQL request, whatever its outcome. */
  const observe = (request: RequestState) => {
    const started = performance.now();
    const { res, report } = request;
    // A response finishes once: `on`, not `once`, spares wrapping the listener and removing it.
    res.on('finish', () => {
      const seconds = (performance.now() - started) / 1000;
      const operation = report.operationName ?? 'anonymous';
      metrics.requests.observe(
        { operation: metrics.operationLabel(operation), status: String(res.statusCode) },
        seconds,
      );
      // Built only when written: at LOG_LEVEL=warn a request costs no log object.
      if (!log.isLevelEnabled('info')) return;
      log.info(
        {
          requestId: report.requestId,
          operation,
          viewer: request.who.id,
          tier: request.who.tier,
          status: res.statusCode,
          durationMs: Math.round(seconds * 10_000) / 10,
          cache: report.cache,
          cost: report.cost,
          rejection: report.rejection,
        },
        'request',
      );
    });
  };

  return {
    async handle(req: IncomingMessage, res: ServerResponse, report: RequestReport): Promise<void> {
      const request = new RequestState(req, res, report);
      observe(request);
      try {
        await runStages(stages, request);
      } catch (error) {
        // A refusal (or a failure) is kept by no one, and names the request it refuses.
        if (!res.headersSent) {
          for (const name in REFUSAL_HEADERS) res.setHeader(name, REFUSAL_HEADERS[name]!);
          res.setHeader('x-request-id', report.requestId);
        }
        throw error;
      }
    },
  };
}

/**
 * A request's id: the HTTP server keeps a caller's `x-request-id` that looks
 * like one, or makes one, and writes it to the request's headers (service-kit
 * `requestIdOf`); it is echoed on the answer.
 */
const requestIdIn = (req: IncomingMessage): string => req.headers[REQUEST_ID_HEADER] as string;

/** The router: Apollo Server over @apollo/gateway, behind Memegraph's request path. */
export async function createRouter(config: RouterConfig, log: Logger): Promise<Router> {
  const platform = await openPlatform(config, log);
  const { state, metrics, supergraph, urlOf, clientAddress } = platform;
  const schema: { sdl?: string } = {};
  // The request path and the operation stages share one cost bucket.
  const bucket = createCostBucket(state);
  const apollo = await startApollo(platform, createGateway(platform, bucket), schema);
  // A request and a subscription's start are counted by the same checks: one window and one quota per viewer.
  const limits = createRequestLimits({ ...state, window: createWindowCounter(state), usage: platform.usage, bucket });
  const graphql = createRequestPath(platform, apollo, limits);
  const subscriptions = createSubscriptions({
    ...{ supergraph: () => supergraph.current, apollo, identify: platform.identify, denial, viewerKey, state, metrics },
    ...{ signViewers: platform.signViewers, tiers: config.tiers, headers: CORS_HEADERS, limits },
    operationLimits: platform.operationLimits,
    ...{ defaultListSize: config.defaultListSize, log, trusted: platform.trusted },
    settings: { ...config.subscriptions, bodyLimitBytes: config.bodyLimitBytes },
  });
  // With TRUST_PROXY, the address a trusted proxy forwards decides what loopback is.
  const metricsGuard = createMetricsGuard({ token: config.metricsToken, addressOf: clientAddress });
  const imagesOrigin = new URL(urlOf(config.imagesSubgraph)).origin;

  const proxyImage = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const upstream = await fetch(new URL(url.pathname + url.search, imagesOrigin), {
      headers: req.headers['if-none-match'] ? { 'if-none-match': String(req.headers['if-none-match']) } : {},
      signal: AbortSignal.timeout(10_000),
    }).catch(() => null);
    if (!upstream)
      return sendError(
        res,
        502,
        ErrorCode.DOWNSTREAM_SERVICE_ERROR,
        'The images service failed to answer',
        NOT_KEPT_HEADERS,
      );
    // The images service's own Cache-Control, when it sends one, replaces this; a 304 updates the head a
    // cache holds, so it says only what it was sent.
    const headers: Record<string, string> = upstream.status === 304 ? {} : { ...NOT_KEPT_HEADERS };
    for (const name of [
      'content-type',
      'cache-control',
      'etag',
      'content-length',
      'content-security-policy',
      'x-content-type-options',
    ]) {
      const value = upstream.headers.get(name);
      if (value) headers[name] = value;
    }
    res.writeHead(upstream.status, headers);
    if (upstream.body) Readable.fromWeb(upstream.body).pipe(res);
    else res.end();
  };

  let draining = false;
  /**
   * Ready unless draining. A dependency that does not answer is reported,
   * not fatal: the router still serves (without Redis, on its own state;
   * without a subgraph, the rest of each response), and taking every router
   * out of rotation over a shared dependency would turn a fault into an outage.
   */
  const readiness = async (): Promise<Record<string, string>> => {
    const checks: Record<string, string> = {};
    if (state.redis)
      checks.redis = await state.redis.ping().then(
        () => 'ok',
        () => 'unavailable',
      );
    await Promise.all(
      [...supergraph.current.subgraphUrls].map(async ([name, url]) => {
        const ok = await fetch(new URL('/ready', url), { signal: AbortSignal.timeout(2_000) }).then(
          (r) => r.ok,
          () => false,
        );
        checks[name] = ok ? 'ok' : 'unavailable';
      }),
    );
    return checks;
  };

  // Status reads must not hang the page on a stuck subgraph.
  const statusCall = createInternalClient({ caller: 'router', signingSecret: config.signingSecret, timeoutMs: 2_000 });
  const web = createWebRoutes({
    introspection: config.introspection,
    galleryDir: config.galleryDir,
    metrics,
    sampleMs: config.statusSampleMs,
    readiness,
    // Asked as a service, through the ai subgraph's own API: it reports key fingerprints, never keys.
    aiStatus: async () => {
      const answer = await statusCall<{ data?: { aiStatus?: AiStatusReport } | null; errors?: { message: string }[] }>(
        urlOf(AI_SUBGRAPH),
        {
          query: AI_STATUS_QUERY,
        },
      );
      if (!answer.data?.aiStatus) throw new Error(answer.errors?.[0]?.message ?? 'The ai subgraph sent no aiStatus');
      return answer.data.aiStatus;
    },
    clientAddress,
    identify: platform.identify,
    log,
  });

  const billingWebhook = createBillingWebhook({
    signingSecret: config.signingSecret,
    url: new URL('/internal/billing/webhook', urlOf(config.viewerSubgraph)),
    viewerCache: platform.viewerCache,
    responseCache: platform.responseCache,
    log,
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, PREFLIGHT_HEADERS).end();
      return;
    }
    // The GraphQL POST, most of what a router serves, is routed without parsing its URL.
    if (req.url === '/graphql' && req.method === 'POST' && !subscriptions.wantsStream(req)) {
      return graphql.handle(req, res, newReport(requestIdIn(req)));
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    switch (url.pathname) {
      case '/graphql/stream':
        return subscriptions.handleStream(req, res);
      case '/graphql': {
        if (subscriptions.wantsStream(req)) return subscriptions.handleStream(req, res);
        if (await web.explorer(req, res, url)) return;
        return graphql.handle(req, res, newReport(requestIdIn(req)));
      }
      case '/health':
        return sendJson(res, 200, { status: 'ok' }, NOT_KEPT_HEADERS);
      case '/ready': {
        if (draining) return sendJson(res, 503, { status: 'draining' }, NOT_KEPT_HEADERS);
        const checks = await readiness();
        const healthy = Object.values(checks).every((c) => c === 'ok');
        return sendJson(res, 200, { status: healthy ? 'ready' : 'degraded', checks }, NOT_KEPT_HEADERS);
      }
      case '/metrics':
        return serveMetrics(req, res, metrics.registry, metricsGuard);
      case BILLING_WEBHOOK_PATH:
        return billingWebhook(req, res);
      case '/schema.graphql':
        if (!config.introspection || !schema.sdl) break;
        // The supergraph changes under it.
        res
          .writeHead(200, { 'content-type': 'text/plain; charset=utf-8', ...NOT_KEPT_HEADERS, ...CORS_HEADERS })
          .end(schema.sdl);
        return;
    }
    if (url.pathname.startsWith('/images/') && req.method === 'GET') return proxyImage(req, res, url);
    if (await web.handle(req, res, url)) return;
    sendError(res, 404, ErrorCode.NOT_FOUND, 'Not found: GraphQL is served at /graphql', NOT_KEPT_HEADERS);
  };

  // The router passes each request's id along itself (its report, subgraph fetches, internal calls, log lines).
  const httpServer = createHttpServer(handle, { log, headers: CORS_HEADERS, requestScope: false });
  httpServer.on('upgrade', subscriptions.handleUpgrade);

  return {
    httpServer,
    listen: (port, host) => listen(httpServer, port, host),
    async close() {
      draining = true;
      web.stop();
      await subscriptions.close();
      await closeServer(httpServer);
      await apollo.stop();
      await platform.stopUsageFlush();
      platform.cdnPurger?.close();
      await state.close();
    },
  };
}
