import { env, loadTiers, redisEnv, redisTargetOf, replicaEnv, replicasOf, runSubgraph } from '@memegraph/service-kit';
import { queueEnv, queueSettingsOf } from './config';
import { subgraph } from './index';
import { createProvider, readAiProvidersConfig } from './providers/config';

await runSubgraph(subgraph, {
  env: {
    ...replicaEnv,
    MEMES_URL: env.url().default('http://127.0.0.1:4002'),
    ...redisEnv,
    TIERS_JSON: env.optional(),
    ...queueEnv,
  },
  db: (config) => ({ replicas: replicasOf(config, 'ai') }),
  server: (config, log) => {
    const redisTarget = redisTargetOf(config);
    // With Redis and PostgreSQL, worker-main.ts runs the jobs; otherwise this process does (one instance
    // only: embedded PGlite cannot be shared by two processes).
    const redis = redisTarget && config.DATABASE_URL ? { ...redisTarget, prefix: config.REDIS_PREFIX } : null;
    log.info({ queue: redis ? 'bullmq' : 'in-process' }, 'generation queue');
    return {
      memesUrl: config.MEMES_URL,
      tiers: loadTiers(config.TIERS_JSON),
      queue: queueSettingsOf(config),
      redis,
      provider: createProvider(readAiProvidersConfig(process.env), log),
    };
  },
});
