import type http from 'node:http';
import { randomUUID } from 'node:crypto';
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
  HttpError,
  closeServer,
  createHttpServer,
  createInternalClient,
  createMetricsGuard,
  createViewerSigner,
  graphqlDocumentsTraced,
  executeGraphQL,
  forMediaType,
  listen,
  secretKey,
  sendError,
  sendJson,
  serveMetrics,
  type Logger,
  type Viewer,
} from '@memegraph/service-kit';
import { refusalAnswer } from './batch';
import { BILLING_WEBHOOK_PATH, createBillingWebhook } from './billing/webhook';
import type { RouterConfig } from './config';
import { createClientAddress } from './clientAddress';
import { createRouterContext, type RequestReport, type RouterContext } from './context';
import { REFUSAL_HEADERS, httpCacheOnErrors } from './cache/httpHeaders';
import { createCdnPurger } from './cache/cdnPurge';
import { ResponseCache, isFresh } from './cache/store';
import { createCostBucket } from './cost/bucket';
import { formatRouterError, statusFromErrors } from './errors';
import { KnownOperationTypesRule } from './knownOperationTypes';
import { SignedViewerDataSource } from './gateway/datasource';
import { EntityCache } from './cache/entityCache';
import { SharedFlights } from './cache/sharedFlight';
import { PipelineGateway, denial, viewerKey } from './gateway/pipeline';
import { loadSupergraph, watchSupergraph } from './gateway/supergraph';
import { createFieldRateLimiter } from './limits/fieldRateLimit';
import { OperationLimits } from './limits/operationLimits';
import { createRouterMetrics } from './metrics';
import { createWindowCounter } from './limits/requestRate';
import { createRequestLimits, limitOutcome } from './limits/requestLimits';
import { SchemaPolicy } from './policy/schemaPolicy';
import { RequestFingerprints, createCachedAnswer } from './stages/cachedAnswer';
import { createAdmission } from './stages/admission';
import { createPersistedDocuments } from './stages/persistedDocuments';
import { TrustedDocuments } from './persisted/trustedDocuments';
import { RedisKeyValueCache } from './state/keyValueCache';
import { openSharedState } from './state/shared';
import { createUsageMeter, startUsageFlush } from './usage/meter';
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

const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers':
    'content-type, accept, authorization, x-api-key, x-request-id, apollo-require-preflight, x-apollo-operation-name, apollographql-client-name, apollographql-client-version',
  'access-control-expose-headers':
    'x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset, retry-after, x-cache, age, x-request-id',
  'access-control-max-age': '600',
};

const RATE_WINDOW_MS = 60_000;
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

/** The router: Apollo Server over @apollo/gateway, behind Memegraph's request pipeline. */
export async function createRouter(config: RouterConfig, log: Logger): Promise<Router> {
  let supergraph = await loadSupergraph(config.supergraphPath, config.subgraphUrls);
  const urlOf = (name: string) => {
    const url = supergraph.subgraphUrls.get(name);
    if (!url) throw new Error(`The supergraph has no subgraph named ${name}`);
    return url;
  };

  const state = openSharedState(config.redis, config.redisPrefix, log);
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
  const stopUsageFlush = startUsageFlush(usage, config.usageFlushMs, log);
  const requestRate = createWindowCounter(state);
  const bucket = createCostBucket(state);
  const operationLimits = new OperationLimits(Math.max(...Object.values(config.tiers).map((t) => t.maxTokens)));
  const apqCache: KeyValueCache<string> = state.redis
    ? new RedisKeyValueCache({ ...state, redis: state.redis }, `${config.redisPrefix}apq:`, config.apqTtlSeconds)
    : new InMemoryLRUCache<string>();
  const cdnPurger = config.cdnPurge ? createCdnPurger({ ...config.cdnPurge, counter: metrics.cdnPurges, log }) : null;
  const fingerprints = new RequestFingerprints();
  const entityCache = config.entityCache
    ? new EntityCache(state, SchemaPolicy.fromSupergraph(supergraph.sdl), {
        localTtlMs: config.cacheLocalTtlMs,
        onServed: (subgraph, hits, misses) => {
          metrics.entityCacheEntities.inc({ subgraph, result: 'hit' }, hits);
          metrics.entityCacheEntities.inc({ subgraph, result: 'miss' }, misses);
        },
      })
    : undefined;
  const responseCache = new ResponseCache(state, {
    entities: entityCache,
    localTtlMs: config.cacheLocalTtlMs,
    staleIfErrorSeconds: config.staleIfErrorSeconds,
    staleWhileRevalidateSeconds: config.staleWhileRevalidateSeconds,
    onLookup: (layer, result) => metrics.cache.inc({ layer, result }),
    onPurge: cdnPurger ? (tags) => cdnPurger.send(tags) : undefined,
  });

  // @apollo/gateway reports usage to Apollo and probes cloud metadata endpoints unless
  // told not to; Memegraph sends nothing off the machine.
  process.env.APOLLO_TELEMETRY_DISABLED = 'true';
  let stopWatching = () => {};
  const gateway = new PipelineGateway(
    new ApolloGateway({
      // Its spans hold the operation's document only when TRACE_GRAPHQL_DOCUMENT says so (docs/tracing.md).
      telemetry: { includeDocument: graphqlDocumentsTraced() },
      // The supergraph file is watched: a new version is swapped in without dropping a request.
      supergraphSdl: async ({ update }) => {
        stopWatching = watchSupergraph(
          config.supergraphPath,
          config.subgraphUrls,
          supergraph.sdl,
          (next) => {
            supergraph = next;
            const policy = SchemaPolicy.fromSupergraph(next.sdl);
            gateway.setPolicy(policy);
            entityCache?.setPolicy(policy);
            update(next.gatewaySdl);
            log.info({ path: config.supergraphPath }, 'supergraph reloaded');
          },
          (error) =>
            log.error({ err: error, path: config.supergraphPath }, 'supergraph not reloaded; keeping the running one'),
        );
        return { supergraphSdl: supergraph.gatewaySdl, cleanup: async () => stopWatching() };
      },
      buildService: ({ name, url }) => {
        metrics.breakers.set({ subgraph: name }, 0);
        return new SignedViewerDataSource(name, supergraph.subgraphUrls.get(name) ?? url!, {
          timeoutMs: config.subgraphTimeoutMs,
          breakerThreshold: config.breakerThreshold,
          breakerHalfOpenMs: config.breakerHalfOpenMs,
          staleWaitMs: config.staleIfErrorWaitMs,
          latency: metrics.subgraphLatency,
          dedup: config.subgraphDedup,
          shared: metrics.subgraphFetchesShared,
          entityCache,
          onBreakerChange: (subgraph, state) => {
            metrics.breakers.set({ subgraph }, BREAKER_GAUGE[state]);
            log.warn({ subgraph, state: CircuitState[state] }, 'subgraph circuit breaker changed');
          },
        });
      },
    }),
    {
      policy: SchemaPolicy.fromSupergraph(supergraph.sdl),
      tiers: config.tiers,
      bucket,
      fieldLimiter: createFieldRateLimiter(state),
      usage,
      viewerCache,
      defaultListSize: config.defaultListSize,
      entitlementMutations: config.entitlementMutations,
      responseCache,
      singleFlight: config.responseCacheSingleFlight,
      sharedFlights:
        config.responseCacheSingleFlight && state.redis
          ? new SharedFlights(state, {
              // No execution is held up longer than one subgraph fetch may take.
              lockMs: config.subgraphTimeoutMs,
              read: async (key) => {
                const entry = await responseCache.get(key);
                return entry && isFresh(entry) ? entry : undefined;
              },
            })
          : undefined,
      staleWhileRevalidateSeconds: config.staleWhileRevalidateSeconds,
      fingerprints,
      metrics,
      log,
    },
  );
  const schemaHolder: { sdl?: string } = {};
  const apollo = new ApolloServer<RouterContext>({
    gateway,
    introspection: config.introspection,
    csrfPrevention: true,
    // Batches are bounded per tier before they reach Apollo.
    allowBatchedHttpRequests: true,
    // Automatic persisted queries: in Redis, so every router knows every hash.
    persistedQueries: { cache: apqCache, ttl: config.apqTtlSeconds },
    // main.ts drains the process itself (drainOnSignal).
    stopOnTerminationSignals: false,
    includeStacktraceInErrorResponses: false,
    validationRules: [KnownOperationTypesRule],
    formatError: formatRouterError(log),
    plugins: [
      // Browsers get the router's own explorer (web/), not Apollo's landing page and its CDN.
      ApolloServerPluginLandingPageDisabled(),
      // Caching headers are the pipeline's (cache/httpHeaders.ts): Apollo's would call a mutation
      // `public` from its subgraph's hints, and know nothing of credentials.
      ApolloServerPluginCacheControl({ calculateHttpHeaders: false }),
      httpCacheOnErrors,
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

  const signViewers = createViewerSigner(secretKey(config.signingSecret));
  const clientAddress = createClientAddress(config.trustProxy);
  // With TRUST_PROXY, the address a trusted proxy forwards decides what loopback is.
  const metricsGuard = createMetricsGuard({ token: config.metricsToken, addressOf: clientAddress });
  const identify = createViewerIdentifier({
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
  });
  const imagesOrigin = new URL(urlOf(config.imagesSubgraph)).origin;
  const cachedAnswer = createCachedAnswer({
    responseCache,
    usage,
    metrics,
    staleWhileRevalidateSeconds: config.staleWhileRevalidateSeconds,
  });
  const persistedDocuments = createPersistedDocuments({ trusted, apqCache, operationLimits });
  const admission = createAdmission({ identify, tiers: config.tiers, bodyLimitBytes: config.bodyLimitBytes });
  const requestLimits = createRequestLimits({ ...state, window: requestRate, usage, bucket });
  const subscriptions = createSubscriptions({
    ...{ supergraph: () => supergraph, apollo, signViewers, identify, denial, viewerKey, state, operationLimits },
    ...{ metrics, log },
    ...{ tiers: config.tiers, defaultListSize: config.defaultListSize, headers: CORS_HEADERS },
    settings: { ...config.subscriptions, bodyLimitBytes: config.bodyLimitBytes },
  });

  /** One JSON log line and one latency observation per GraphQL request, whatever its outcome. */
  const observe = (res: ServerResponse, report: RequestReport, viewer: () => { id: string; tier: string }) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const operation = report.operationName ?? 'anonymous';
      metrics.requests.observe(
        { operation: metrics.operationLabel(operation), status: String(res.statusCode) },
        seconds,
      );
      const who = viewer();
      log.info(
        {
          requestId: report.requestId,
          operation,
          viewer: who.id,
          tier: who.tier,
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

  const handleGraphQL = async (req: IncomingMessage, res: ServerResponse, report: RequestReport) => {
    let known: { id: string; tier: string } = { id: 'unidentified', tier: 'unknown' };
    observe(res, report, () => known);
    const rejected = (error: HttpError, tier: string) => {
      report.rejection = error.code;
      metrics.rejections.inc({ reason: error.code, tier });
      // The status its answer's media type calls for: application/json answers a refused operation 200.
      return forMediaType(error, req.headers.accept);
    };
    const identified = (viewer: Viewer) => {
      known = { id: viewer.kind === 'user' ? viewer.userId : 'anonymous', tier: viewer.tier };
    };
    const {
      viewer,
      limits,
      viewerKey: key,
      body,
      operations: operationCount,
    } = await admission(req, rejected, identified);

    // Trusted documents, APQ and operation limits; refusals are answered after the limits, which count them.
    const { search, sent, refusals, refused } = await persistedDocuments(req, body, viewer.tier, limits);
    // A request of one operation the router has answered from the response cache before is known by
    // its fingerprint: its estimate is checked against the cost bucket with the other limits.
    const fingerprint = sent && RequestFingerprints.of(sent, viewer);
    const cachedOperation = fingerprint ? fingerprints.get(fingerprint) : undefined;

    // Request rate and daily quota, per viewer and tier, shared by every router: one round trip.
    const checked = await requestLimits({
      viewerKey: key,
      operations: operationCount,
      window: { ms: RATE_WINDOW_MS, limit: limits.requestsPerMinute },
      dailyQuota: limits.dailyRequestQuota,
      bucket: cachedOperation && {
        capacity: limits.costBucketCapacity,
        restorePerSecond: limits.costRestorePerSecond,
        points: cachedOperation.cost,
      },
    });
    const { rateHeaders, refusal } = limitOutcome(checked, limits, operationCount);
    if (refusal) throw rejected(refusal, viewer.tier);
    if (refused) {
      throw rejected(
        new HttpError(
          refused.status,
          refused.code,
          refused.message,
          { ...refused.headers, ...rateHeaders },
          refused.extensions,
        ),
        viewer.tier,
      );
    }
    const answered = new Map<number, unknown>();
    for (const [index, refusal] of refusals) answered.set(index, refusalAnswer(rejected(refusal, viewer.tier)));

    const headers = { ...CORS_HEADERS, ...rateHeaders, 'x-request-id': report.requestId };
    // One operation whose answer the response cache holds is answered from its bytes, before Apollo;
    // batches and anything unknown go through Apollo, where a cacheable answer is learnt for next time.
    if (sent && cachedOperation && checked.bucket) {
      const request = {
        operation: cachedOperation,
        held: checked.bucket,
        viewer,
        viewerKey: key,
        limits,
        variables: sent.variables,
        report,
        headers,
      };
      if (await cachedAnswer(req, res, request)) return;
    }
    await executeGraphQL(apollo, req, res, {
      body,
      search,
      answered,
      context: async () => createRouterContext(viewer, signViewers, report, fingerprint),
      headers,
    });
  };

  const proxyImage = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const upstream = await fetch(new URL(url.pathname + url.search, imagesOrigin), {
      headers: req.headers['if-none-match'] ? { 'if-none-match': String(req.headers['if-none-match']) } : {},
      signal: AbortSignal.timeout(10_000),
    }).catch(() => null);
    if (!upstream)
      return sendError(res, 502, ErrorCode.DOWNSTREAM_SERVICE_ERROR, 'The images service failed to answer');
    const headers: Record<string, string> = {};
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
      [...supergraph.subgraphUrls].map(async ([name, url]) => {
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
    identify,
    log,
  });

  const billingWebhook = createBillingWebhook({
    signingSecret: config.signingSecret,
    url: new URL('/internal/billing/webhook', urlOf(config.viewerSubgraph)),
    viewerCache,
    responseCache,
    log,
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'OPTIONS') {
      res.writeHead(204, CORS_HEADERS).end();
      return;
    }
    switch (url.pathname) {
      case '/graphql/stream':
        return subscriptions.handleStream(req, res);
      case '/graphql': {
        if (subscriptions.wantsStream(req)) return subscriptions.handleStream(req, res);
        if (await web.explorer(req, res, url)) return;
        // A caller's request id is kept (and echoed) when it looks like one; otherwise one is made.
        const given = req.headers['x-request-id'];
        const requestId = typeof given === 'string' && /^[\w.:-]{1,100}$/.test(given) ? given : randomUUID();
        res.setHeader('x-request-id', requestId);
        // Kept by no one unless the pipeline says otherwise: refusals and protocol errors included.
        for (const [name, value] of Object.entries(REFUSAL_HEADERS)) res.setHeader(name, value);
        return handleGraphQL(req, res, { requestId });
      }
      case '/health':
        return sendJson(res, 200, { status: 'ok' });
      case '/ready': {
        if (draining) return sendJson(res, 503, { status: 'draining' });
        const checks = await readiness();
        const healthy = Object.values(checks).every((c) => c === 'ok');
        return sendJson(res, 200, { status: healthy ? 'ready' : 'degraded', checks });
      }
      case '/metrics':
        return serveMetrics(req, res, metrics.registry, metricsGuard);
      case BILLING_WEBHOOK_PATH:
        return billingWebhook(req, res);
      case '/schema.graphql':
        if (!config.introspection || !schemaHolder.sdl) break;
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', ...CORS_HEADERS }).end(schemaHolder.sdl);
        return;
    }
    if (url.pathname.startsWith('/images/') && req.method === 'GET') return proxyImage(req, res, url);
    if (await web.handle(req, res, url)) return;
    sendError(res, 404, ErrorCode.NOT_FOUND, 'Not found: GraphQL is served at /graphql');
  };

  const httpServer = createHttpServer(handle, { log, headers: CORS_HEADERS });
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
      await stopUsageFlush();
      cdnPurger?.close();
      await state.close();
    },
  };
}
