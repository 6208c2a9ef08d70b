import {
  createLogger,
  drainOnSignal,
  env,
  loadTiers,
  metricsEnv,
  migrate,
  openDb,
  readConfig,
  redisEnv,
  redisTargetOf,
} from '@memegraph/service-kit';
import { z } from 'zod';
import { queueEnv, queueSettingsOf } from './config';
import { AI_MIGRATIONS } from './index';
import { createProvider, readAiProvidersConfig } from './providers/config';
import { createAiServer } from './server';

const config = readConfig({
  PORT: env.port(4003),
  HOST: z.string().default('127.0.0.1'),
  DATABASE_URL: env.optional(),
  DATA_DIR: z.string().default('.data/ai'),
  SUBGRAPH_SIGNING_SECRET: env.secret(),
  MEMES_URL: env.url().default('http://127.0.0.1:4002'),
  ...redisEnv,
  TIERS_JSON: env.optional(),
  ...queueEnv,
  /** false when migrations run as a step of their own (`npm run migrate`) before the services start. */
  MIGRATE_ON_START: env.bool(true),
  LOG_LEVEL: z.string().default('info'),
  ...metricsEnv,
});

const redisTarget = redisTargetOf(config);
const log = createLogger('ai', config.LOG_LEVEL);
const db = await openDb({ schema: 'ai', databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
if (config.MIGRATE_ON_START) await migrate(db, AI_MIGRATIONS);

const server = await createAiServer({
  db,
  signingSecret: config.SUBGRAPH_SIGNING_SECRET,
  log,
  memesUrl: config.MEMES_URL,
  tiers: loadTiers(config.TIERS_JSON),
  queue: queueSettingsOf(config),
  // With Redis and PostgreSQL, worker-main.ts runs the jobs; otherwise this process does (one instance
  // only: embedded PGlite cannot be shared by two processes).
  redis: redisTarget && config.DATABASE_URL ? { ...redisTarget, prefix: config.REDIS_PREFIX } : null,
  provider: createProvider(readAiProvidersConfig(process.env), log),
  metricsToken: config.METRICS_TOKEN,
});
const url = await server.listen(config.PORT, config.HOST);
log.info(
  { url: `${url}/graphql`, queue: redisTarget && config.DATABASE_URL ? 'bullmq' : 'in-process' },
  'ai subgraph ready',
);

drainOnSignal(log, async () => {
  await server.close();
  await db.close();
});
