import { env, runSubgraph } from '@memegraph/service-kit';
import { subgraph } from './index';

await runSubgraph(subgraph, {
  env: {
    /** Origin of image URLs when clients reach this service through another address. */
    PUBLIC_URL: env.url().optional(),
  },
  server: (config) => ({ publicUrl: config.PUBLIC_URL }),
});
