import { env, redisEnv, replicaEnv, replicasOf, runSubgraph } from '@memegraph/service-kit';
import { subgraph } from './index';

await runSubgraph(subgraph, {
  env: {
    ...replicaEnv,
    ...redisEnv,
    /** Origin of image URLs when clients reach this service through another address. */
    PUBLIC_URL: env.url().optional(),
  },
  db: (config) => ({ replicas: replicasOf(config, 'memes') }),
  server: (config) => ({ publicUrl: config.PUBLIC_URL }),
});
