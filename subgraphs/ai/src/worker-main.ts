/**
 * The AI generation worker: takes jobs from the BullMQ queue and runs them
 * against the provider key pool, apart from the subgraph's HTTP server.
 */
import {
  createLogger,
  createRedis,
  drainOnSignal,
  env,
  openSubgraphDb,
  readConfig,
  redisEnv,
  redisTargetOf,
} from '@memegraph/service-kit';
import { z } from 'zod';
import { queueEnv, queueSettingsOf } from './config';
import { subgraph } from './index';
import { startBullMqWorker } from './generations/queue';
import { createResultCache } from './generations/resultCache';
import { createGenerationStore } from './generations/store';
import { createProvider, readAiProvidersConfig } from './providers/config';
import { createCatalogFor } from './server';

const config = readConfig({
  // The worker shares the ai tables with the subgraph's process: embedded PGlite cannot do that.
  DATABASE_URL: z.string().min(1, 'the worker needs PostgreSQL; without it the ai subgraph runs jobs itself'),
  SUBGRAPH_SIGNING_SECRET: env.secret(),
  MEMES_URL: env.url().default('http://127.0.0.1:4002'),
  ...redisEnv,
  ...queueEnv,
  /** How long a job's lock lasts; a worker that dies frees its jobs after this. */
  AI_LOCK_DURATION_MS: env.int(30_000, 1_000),
  /** How often PostgreSQL's unfinished generations are checked against the queue (Redis may have lost them). */
  AI_RECONCILE_INTERVAL_MS: env.int(30_000, 10),
  /** false when migrations run as a step of their own (`npm run migrate`) before the services start. */
  MIGRATE_ON_START: env.bool(true),
  LOG_LEVEL: z.string().default('info'),
});

const redisTarget = redisTargetOf(config);
if (!redisTarget) {
  throw new Error(
    'Invalid configuration:\n  REDIS_URL: the worker needs Redis (REDIS_URL or REDIS_CLUSTER_NODES); without it the ai subgraph runs jobs itself',
  );
}
const log = createLogger('ai-worker', config.LOG_LEVEL);
const db = await openSubgraphDb(subgraph, {
  databaseUrl: config.DATABASE_URL,
  migrate: config.MIGRATE_ON_START,
  log,
});
const redis = createRedis(redisTarget, 'memegraph-ai-worker', { maxRetriesPerRequest: 2, offlineQueue: true });
const provider = createProvider(readAiProvidersConfig(process.env), log);

const worker = startBullMqWorker({
  redisTarget,
  redis,
  prefix: config.REDIS_PREFIX,
  settings: queueSettingsOf(config),
  lockDurationMs: config.AI_LOCK_DURATION_MS,
  reconcileIntervalMs: config.AI_RECONCILE_INTERVAL_MS,
  deps: {
    store: createGenerationStore(db),
    catalog: createCatalogFor(config.SUBGRAPH_SIGNING_SECRET, config.MEMES_URL),
    provider,
    results: createResultCache(redis, config.REDIS_PREFIX),
    log,
  },
  log,
});
log.info({ concurrency: config.AI_CONCURRENCY }, 'ai worker ready');

drainOnSignal(log, async () => {
  await worker.close();
  redis.disconnect();
  await db.close();
});
