import { fileURLToPath } from 'node:url';

export { createAiServer, type AiServerOptions } from './server';
export const AI_MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));
