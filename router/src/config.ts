import { fileURLToPath } from 'node:url';
import proxyAddr from 'proxy-addr';
import { z } from 'zod';
import { TIERS, env, loadTiers, metricsEnv, readConfig, redisEnv, redisTargetOf, type RedisTarget, type Tier, type TierTable } from '@memegraph/service-kit';
import { TRUSTED_MODES, type TrustedMode } from './persisted/trustedDocuments';

export interface RouterConfig {
  port: number;
  host: string;
  supergraphPath: string;
  /** Per-subgraph URL overrides; subgraphs not named here use the URL in the supergraph. */
  subgraphUrls: Record<string, string>;
  signingSecret: string;
  jwtSecret: string;
  introspection: boolean;
  bodyLimitBytes: number;
  tiers: TierTable;
  /** The subgraph that resolves credentials to viewers. */
  viewerSubgraph: string;
  /** The subgraph that serves `/images/…`. */
  imagesSubgraph: string;
  logLevel: string;
  /** Shared state for every router (`REDIS_URL` or `REDIS_CLUSTER_NODES`); unset: this process alone. */
  redis?: RedisTarget;
  redisPrefix: string;
  defaultListSize: number;
  usageFlushMs: number;
  /** How long this process trusts a cached viewer (short without Redis: nothing invalidates it). */
  viewerCacheLocalMs: number;
  entitlementMutations: Set<string>;
  /** Refused credentials a client address may send per window before it gets 429 without a lookup. */
  authFailuresPerAddress: number;
  authFailureWindowMs: number;
  /** How long a refused API key or session is remembered, so a flood of it does not reach PostgreSQL. */
  refusedCredentialTtlMs: number;
  /** In-process response cache lifetime, in front of Redis. */
  cacheLocalTtlMs: number;
  staleIfErrorSeconds: number;
  /** How long a read with a stale answer waits for a subgraph before that answer is served. */
  staleIfErrorWaitMs: number;
  /** Where every purge is also sent, for a CDN in front of the router; unset: nowhere. */
  cdnPurge?: { url: string; token?: string; maxQueue: number; attempts: number; timeoutMs: number };
  apqTtlSeconds: number;
  trustedDocuments: {
    manifest?: string;
    mode: TrustedMode;
    byTier: Partial<Record<Tier, TrustedMode>>;
    /** By `apollographql-client-name`: a client's mode can only make its requests stricter. */
    byClient: Partial<Record<string, TrustedMode>>;
  };
  /** Proxies whose `X-Forwarded-For` is believed (addresses, CIDR ranges, or proxy-addr's `loopback`, `linklocal`, `uniquelocal`). */
  trustProxy: string[];
  /** Opens `/metrics` to clients off loopback that send it as a bearer token; unset: loopback only. */
  metricsToken?: string;
  /** How many distinct operation names (beyond the trusted documents') get a metrics label of their own; later ones are `other`. */
  metricsOperationLabels: number;
  /** The built gallery app served at `/`. */
  galleryDir: string;
  /** How often the status page's counters are sampled. */
  statusSampleMs: number;
  subgraphTimeoutMs: number;
  breakerThreshold: number;
  breakerHalfOpenMs: number;
  /** Identical query fetches in flight at the same time are sent once (SUBGRAPH_DEDUP). */
  subgraphDedup: boolean;
}

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

/** Reads and validates the router's configuration once, at start. */
export function loadRouterConfig(source: Record<string, string | undefined> = process.env): RouterConfig {
  const config = readConfig(
    {
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
      DEFAULT_LIST_SIZE: env.int(20, 1),
      USAGE_FLUSH_MS: env.int(5_000, 100),
      VIEWER_CACHE_TTL_MS: z.coerce.number().int().min(0).optional(),
      // Session mutations too: an ended session's cached viewer must go from every router.
      ENTITLEMENT_MUTATIONS: z.string().default('subscribe,cancelSubscription,revokeApiKey,logOut,logOutEverywhere,changePassword'),
      AUTH_FAILURES_PER_ADDRESS: env.int(20, 1),
      AUTH_FAILURE_WINDOW_SECONDS: env.int(300, 1),
      REFUSED_CREDENTIAL_TTL_SECONDS: env.int(60),
      SUBGRAPH_TIMEOUT_MS: env.int(10_000, 10),
      SUBGRAPH_BREAKER_THRESHOLD: env.int(5, 1),
      SUBGRAPH_BREAKER_HALF_OPEN_MS: env.int(5_000, 10),
      SUBGRAPH_DEDUP: env.bool(true),
      CACHE_LOCAL_TTL_MS: env.int(5_000),
      STALE_IF_ERROR_SECONDS: env.int(300),
      STALE_IF_ERROR_WAIT_MS: env.int(300, 1),
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
        .transform((text) => text.split(',').map((s) => s.trim()).filter(Boolean))
        .refine(
          (list) => list.every((entry) => isTrustable(entry)),
          'must be IP addresses, CIDR ranges or "loopback", "linklocal", "uniquelocal", comma-separated',
        ),
      ...metricsEnv,
      METRICS_OPERATION_LABELS: env.int(100),
      GALLERY_DIR: z.string().default(DEFAULT_GALLERY),
      STATUS_SAMPLE_MS: env.int(2_000, 100),
    },
    source,
  );
  const subgraphUrls: Record<string, string> = {};
  for (const [key, value] of Object.entries(source)) {
    if (!key.startsWith(SUBGRAPH_URL_PREFIX) || !value) continue;
    if (!URL.canParse(value)) throw new Error(`Invalid configuration:\n  ${key}: not a URL`);
    subgraphUrls[key.slice(SUBGRAPH_URL_PREFIX.length).toLowerCase()] = value;
  }
  const redis = redisTargetOf(config);
  return {
    port: config.PORT,
    host: config.HOST,
    supergraphPath: config.SUPERGRAPH_PATH,
    subgraphUrls,
    signingSecret: config.SUBGRAPH_SIGNING_SECRET,
    jwtSecret: config.JWT_SECRET,
    introspection: config.INTROSPECTION,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    tiers: loadTiers(config.TIERS_JSON),
    viewerSubgraph: config.VIEWER_SUBGRAPH,
    imagesSubgraph: config.IMAGES_SUBGRAPH,
    logLevel: config.LOG_LEVEL,
    redis,
    redisPrefix: config.REDIS_PREFIX,
    defaultListSize: config.DEFAULT_LIST_SIZE,
    usageFlushMs: config.USAGE_FLUSH_MS,
    viewerCacheLocalMs: config.VIEWER_CACHE_TTL_MS ?? (redis ? 30_000 : 1_000),
    entitlementMutations: new Set(config.ENTITLEMENT_MUTATIONS.split(',').map((s) => s.trim()).filter(Boolean)),
    authFailuresPerAddress: config.AUTH_FAILURES_PER_ADDRESS,
    authFailureWindowMs: config.AUTH_FAILURE_WINDOW_SECONDS * 1000,
    refusedCredentialTtlMs: config.REFUSED_CREDENTIAL_TTL_SECONDS * 1000,
    subgraphTimeoutMs: config.SUBGRAPH_TIMEOUT_MS,
    breakerThreshold: config.SUBGRAPH_BREAKER_THRESHOLD,
    breakerHalfOpenMs: config.SUBGRAPH_BREAKER_HALF_OPEN_MS,
    subgraphDedup: config.SUBGRAPH_DEDUP,
    cacheLocalTtlMs: config.CACHE_LOCAL_TTL_MS,
    staleIfErrorSeconds: config.STALE_IF_ERROR_SECONDS,
    staleIfErrorWaitMs: config.STALE_IF_ERROR_WAIT_MS,
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
      byClient: config.TRUSTED_DOCUMENTS_MODE_BY_CLIENT,
    },
    trustProxy: config.TRUST_PROXY,
    metricsToken: config.METRICS_TOKEN,
    metricsOperationLabels: config.METRICS_OPERATION_LABELS,
    galleryDir: config.GALLERY_DIR,
    statusSampleMs: config.STATUS_SAMPLE_MS,
  };
}
