import { env, loadTiers, redisEnv, replicaEnv, replicasOf, runSubgraph, secretKey } from '@memegraph/service-kit';
import { DEFAULT_LOGIN_THROTTLE } from './auth/loginThrottle';
import { billingEnv, billingProviderOf } from './billing';
import { subgraph } from './index';

await runSubgraph(subgraph, {
  env: {
    ...replicaEnv,
    ...redisEnv,
    JWT_SECRET: env.secret(),
    SESSION_TTL_SECONDS: env.int(7 * 24 * 3600, 60),
    LOGIN_FAILURES_PER_HANDLE: env.int(DEFAULT_LOGIN_THROTTLE.failuresPerHandle, 1),
    LOGIN_FAILURES_PER_ADDRESS: env.int(DEFAULT_LOGIN_THROTTLE.failuresPerAddress, 1),
    LOGIN_BACKOFF_MAX_SECONDS: env.int(DEFAULT_LOGIN_THROTTLE.maxBackoffSeconds, 1),
    TIERS_JSON: env.optional(),
    ...billingEnv,
  },
  db: (config) => ({ replicas: replicasOf(config, 'users') }),
  server: (config) => ({
    jwtSecret: secretKey(config.JWT_SECRET),
    sessionTtlSeconds: config.SESSION_TTL_SECONDS,
    billing: billingProviderOf(config),
    tiers: loadTiers(config.TIERS_JSON),
    loginThrottle: {
      failuresPerHandle: config.LOGIN_FAILURES_PER_HANDLE,
      failuresPerAddress: config.LOGIN_FAILURES_PER_ADDRESS,
      maxBackoffSeconds: config.LOGIN_BACKOFF_MAX_SECONDS,
    },
  }),
});
