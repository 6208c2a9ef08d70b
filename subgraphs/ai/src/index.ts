import { fileURLToPath } from 'node:url';
import type { SubgraphEntry } from '@memegraph/service-kit';
import { createAiServer, type AiServerOptions } from './server';

export { createAiServer, type AiServerOptions } from './server';
export const AI_MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));
export { startBullMqWorker, type QueueSettings } from './generations/queue';
export { DEFAULT_QUEUE_SETTINGS } from './config';
export { createResultCache } from './generations/resultCache';
export { createGenerationStore } from './generations/store';
export { createProvider, readAiProvidersConfig, type PooledProvider } from './providers/config';
export { createCatalogFor } from './server';

/** The ai subgraph: meme generations, queued and run by a provider key pool. */
export const subgraph: SubgraphEntry<AiServerOptions> = {
  name: 'ai',
  defaultPort: 4003,
  schemaFile: fileURLToPath(new URL('../schema.graphql', import.meta.url)),
  migrations: AI_MIGRATIONS,
  createServer: createAiServer,
};
