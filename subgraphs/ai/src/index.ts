import { fileURLToPath } from 'node:url';

export { createAiServer, type AiServerOptions } from './server';
export const AI_MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));
export { startBullMqWorker, type QueueSettings } from './generations/queue';
export { DEFAULT_QUEUE_SETTINGS } from './config';
export { createResultCache } from './generations/resultCache';
export { createGenerationStore } from './generations/store';
export { createProvider, readAiProvidersConfig, type PooledProvider } from './providers/config';
export { createCatalogFor } from './server';
