import { fileURLToPath } from 'node:url';
import proxyAddr from 'proxy-addr';
import { z } from 'zod';
import { TIERS, env, loadTiers, metricsEnv, redisEnv, redisTargetOf } from '@memegraph/service-kit';
import { TRUSTED_MODES } from './persisted/trustedDocuments';

const DEFAULT_SUPERGRAPH = fileURLToPath(new URL('../../schema/supergraph.graphql', import.meta.url));
const DEFAULT_GALLERY = fileURLToPath(new URL('../../gallery/dist', import.meta.url));

/** A JSON object of trusted-document modes, keyed as `keys` allows. */
const modesJson = <K extends z.ZodType<string>>(keys: K, example: string) =>
  z
    .string()
    .default('{}')
    .transform((text, ctx) => {
      try {
        return z.partialRecord(keys, z.enum(TRUSTED_MODES)).parse(JSON.parse(text));
      } catch {
        ctx.addIssue({ code: 'custom', message: `must be JSON like ${example}` });
        return z.NEVER;
      }
    });
const SUBGRAPH_URL_PREFIX = 'SUBGRAPH_URL_';

/** What proxy-addr can compile: an address, a CIDR range, or one of its names. */
function isTrustable(entry: string): boolean {
  try {
    proxyAddr.compile(entry);
    return true;
  } catch {
    return false;
  }
}

/** Every setting, as named in the environment (and .env.example). */
const SETTINGS = {
  PORT: env.port(4000),
  HOST: z.string().default('127.0.0.1'),
  SUPERGRAPH_PATH: z.string().default(DEFAULT_SUPERGRAPH),
  SUBGRAPH_SIGNING_SECRET: env.secret(),
  JWT_SECRET: env.secret(),
  INTROSPECTION: env.bool(true),
  BODY_LIMIT_BYTES: env.int(512 * 1024, 1024),
  TIERS_JSON: env.optional(),
  VIEWER_SUBGRAPH: z.string().default('users'),
  IMAGES_SUBGRAPH: z.string().default('memes'),
  LOG_LEVEL: z.string().default('info'),
  ...redisEnv,
  REDIS_COMMAND_TIMEOUT_MS: env.int(2_000, 10),
  DEFAULT_LIST_SIZE: env.int(20, 1),
  USAGE_FLUSH_MS: env.int(5_000, 100),
  VIEWER_CACHE_TTL_MS: z.coerce.number().int().min(0).optional(),
  // Session mutations too: an ended session's cached viewer must go from every router.
  ENTITLEMENT_MUTATIONS: z
    .string()
    .default('subscribe,cancelSubscription,revokeApiKey,logOut,logOutEverywhere,changePassword'),
  AUTH_FAILURES_PER_ADDRESS: env.int(20, 1),
  AUTH_FAILURE_WINDOW_SECONDS: env.int(300, 1),
  REFUSED_CREDENTIAL_TTL_SECONDS: env.int(60),
  SUBGRAPH_TIMEOUT_MS: env.int(10_000, 10),
  SUBGRAPH_BREAKER_THRESHOLD: env.int(5, 1),
  SUBGRAPH_BREAKER_HALF_OPEN_MS: env.int(5_000, 10),
  SUBGRAPH_DEDUP: env.bool(true),
  ENTITY_CACHE: env.bool(true),
  CACHE_LOCAL_TTL_MS: env.int(5_000),
  RESPONSE_CACHE_SINGLE_FLIGHT: env.bool(true),
  STALE_IF_ERROR_SECONDS: env.int(300),
  STALE_IF_ERROR_WAIT_MS: env.int(300, 1),
  STALE_WHILE_REVALIDATE_SECONDS: env.int(0),
  CDN_PURGE_URL: env.url().optional(),
  CDN_PURGE_TOKEN: env.optional(),
  CDN_PURGE_MAX_QUEUE: env.int(1_000, 1),
  CDN_PURGE_ATTEMPTS: env.int(5, 1),
  CDN_PURGE_TIMEOUT_MS: env.int(5_000, 10),
  APQ_TTL_SECONDS: env.int(86_400, 1),
  TRUSTED_DOCUMENTS_MANIFEST: env.optional(),
  TRUSTED_DOCUMENTS_MODE: z.enum(TRUSTED_MODES).default('off'),
  TRUSTED_DOCUMENTS_MODE_BY_TIER: modesJson(z.enum(TIERS), '{"enterprise":"off"}'),
  TRUSTED_DOCUMENTS_MODE_BY_CLIENT: modesJson(z.string().min(1), '{"memegraph-gallery":"enforce"}'),
  TRUST_PROXY: z
    .string()
    .default('')
    .transform((text) =>
      text
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .refine(
      (list) => list.every((entry) => isTrustable(entry)),
      'must be IP addresses, CIDR ranges or "loopback", "linklocal", "uniquelocal", comma-separated',
    ),
  ...metricsEnv,
  METRICS_OPERATION_LABELS: env.int(100),
  GALLERY_DIR: z.string().default(DEFAULT_GALLERY),
  STATUS_SAMPLE_MS: env.int(2_000, 100),
  SUBSCRIPTION_MAX_STREAMS: env.int(10_000, 1),
  SUBSCRIPTION_HEARTBEAT_MS: env.int(12_000, 100),
  SUBSCRIPTION_RETRY_MS: env.int(2_000, 0),
};

/**
 * The environment read into the router's configuration: the settings above,
 * and every `SUBGRAPH_URL_<NAME>` (kept by the loose object).
 */
const routerConfigSchema = z.looseObject(SETTINGS).transform((config, ctx) => {
  const subgraphUrls: Record<string, string> = {};
  for (const [key, value] of Object.entries(config)) {
    if (!key.startsWith(SUBGRAPH_URL_PREFIX) || typeof value !== 'string') continue;
    if (!URL.canParse(value)) ctx.addIssue({ code: 'custom', path: [key], message: 'not a URL' });
    subgraphUrls[key.slice(SUBGRAPH_URL_PREFIX.length).toLowerCase()] = value;
  }
  const redis = redisTargetOf(config);
  return {
    port: config.PORT,
    host: config.HOST,
    supergraphPath: config.SUPERGRAPH_PATH,
    /** Per-subgraph URL overrides; subgraphs not named here use the URL in the supergraph. */
    subgraphUrls,
    signingSecret: config.SUBGRAPH_SIGNING_SECRET,
    jwtSecret: config.JWT_SECRET,
    introspection: config.INTROSPECTION,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    tiers: loadTiers(config.TIERS_JSON),
    /** The subgraph that resolves credentials to viewers. */
    viewerSubgraph: config.VIEWER_SUBGRAPH,
    /** The subgraph that serves `/images/…`. */
    imagesSubgraph: config.IMAGES_SUBGRAPH,
    logLevel: config.LOG_LEVEL,
    /** Shared state for every router (`REDIS_URL` or `REDIS_CLUSTER_NODES`); unset: this process alone. */
    redis,
    redisPrefix: config.REDIS_PREFIX,
    /** How long Redis may send no reply before the router treats it as away (a frozen Redis), until it answers again. */
    redisCommandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
    defaultListSize: config.DEFAULT_LIST_SIZE,
    usageFlushMs: config.USAGE_FLUSH_MS,
    /** How long this process trusts a cached viewer (short without Redis: nothing invalidates it). */
    viewerCacheLocalMs: config.VIEWER_CACHE_TTL_MS ?? (redis ? 30_000 : 1_000),
    entitlementMutations: new Set(
      config.ENTITLEMENT_MUTATIONS.split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
    /** Refused credentials a client address may send per window before it gets 429 without a lookup. */
    authFailuresPerAddress: config.AUTH_FAILURES_PER_ADDRESS,
    authFailureWindowMs: config.AUTH_FAILURE_WINDOW_SECONDS * 1000,
    /** How long a refused API key or session is remembered, so a flood of it does not reach PostgreSQL. */
    refusedCredentialTtlMs: config.REFUSED_CREDENTIAL_TTL_SECONDS * 1000,
    subgraphTimeoutMs: config.SUBGRAPH_TIMEOUT_MS,
    breakerThreshold: config.SUBGRAPH_BREAKER_THRESHOLD,
    breakerHalfOpenMs: config.SUBGRAPH_BREAKER_HALF_OPEN_MS,
    /** Identical query fetches in flight at the same time are sent once (SUBGRAPH_DEDUP). */
    subgraphDedup: config.SUBGRAPH_DEDUP,
    /** A query's `_entities` fetches are answered per entity from the entity cache (ENTITY_CACHE). */
    entityCache: config.ENTITY_CACHE,
    /** In-process response cache lifetime, in front of Redis. */
    cacheLocalTtlMs: config.CACHE_LOCAL_TTL_MS,
    /** Concurrent misses of one response-cache key wait for one execution (RESPONSE_CACHE_SINGLE_FLIGHT). */
    responseCacheSingleFlight: config.RESPONSE_CACHE_SINGLE_FLIGHT,
    staleIfErrorSeconds: config.STALE_IF_ERROR_SECONDS,
    /** How long a read with a stale answer waits for a subgraph before that answer is served. */
    staleIfErrorWaitMs: config.STALE_IF_ERROR_WAIT_MS,
    /** How long past its maxAge an answer is served while one refresh of it runs (0: not at all). */
    staleWhileRevalidateSeconds: config.STALE_WHILE_REVALIDATE_SECONDS,
    /** Where every purge is also sent, for a CDN in front of the router; unset: nowhere. */
    cdnPurge: config.CDN_PURGE_URL
      ? {
          url: config.CDN_PURGE_URL,
          token: config.CDN_PURGE_TOKEN,
          maxQueue: config.CDN_PURGE_MAX_QUEUE,
          attempts: config.CDN_PURGE_ATTEMPTS,
          timeoutMs: config.CDN_PURGE_TIMEOUT_MS,
        }
      : undefined,
    apqTtlSeconds: config.APQ_TTL_SECONDS,
    trustedDocuments: {
      manifest: config.TRUSTED_DOCUMENTS_MANIFEST,
      mode: config.TRUSTED_DOCUMENTS_MODE,
      byTier: config.TRUSTED_DOCUMENTS_MODE_BY_TIER,
      /** By `apollographql-client-name`: a client's mode can only make its requests stricter. */
      byClient: config.TRUSTED_DOCUMENTS_MODE_BY_CLIENT,
    },
    /** Proxies whose `X-Forwarded-For` is believed (addresses, CIDR ranges, or proxy-addr's `loopback`, `linklocal`, `uniquelocal`). */
    trustProxy: config.TRUST_PROXY,
    /** Opens `/metrics` to clients off loopback that send it as a bearer token; unset: loopback only. */
    metricsToken: config.METRICS_TOKEN,
    /** How many distinct operation names (beyond the trusted documents') get a metrics label of their own; later ones are `other`. */
    metricsOperationLabels: config.METRICS_OPERATION_LABELS,
    /** The built gallery app served at `/`. */
    galleryDir: config.GALLERY_DIR,
    /** How often the status page's counters are sampled. */
    statusSampleMs: config.STATUS_SAMPLE_MS,
    subscriptions: {
      /** Subscriptions (and WebSocket connections) open at once on this router. */
      maxStreams: config.SUBSCRIPTION_MAX_STREAMS,
      /** WebSocket pings and the renewal of subscription leases; SSE streams carry a comment every 12 s. */
      heartbeatMs: config.SUBSCRIPTION_HEARTBEAT_MS,
      /** The SSE `retry:` a client waits before reconnecting, after a drain or a dropped stream. */
      retryMs: config.SUBSCRIPTION_RETRY_MS,
    },
  };
});

/** The router's configuration: what `routerConfigSchema` makes of the environment. */
export type RouterConfig = z.output<typeof routerConfigSchema>;

/** Reads and validates the router's configuration once, at start; fails naming each bad variable. */
export function loadRouterConfig(source: Record<string, string | undefined> = process.env): RouterConfig {
  // An empty value means unset, as in a copied .env.example.
  const given = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== ''));
  const result = routerConfigSchema.safeParse(given);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`Invalid configuration:\n${problems.join('\n')}`);
  }
  return result.data;
}
