import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import { Redis } from 'ioredis';
import {
  createInternalClient,
  createSubgraphServer,
  type Db,
  type Logger,
  type SubgraphServer,
  type TierTable,
} from '@memegraph/service-kit';
import { createCatalog, type Catalog } from './catalog';
import { createContext, type AiServices } from './context';
import { BullMqQueue, MemoryQueue, type GenerationQueue, type QueueSettings } from './generations/queue';
import { createGenerationRateLimit } from './generations/rate';
import { createResultCache } from './generations/resultCache';
import type { RunDependencies } from './generations/runner';
import { createGenerationStore } from './generations/store';
import type { PooledProvider } from './providers/config';
import { keyStatusBoard, type KeyStats } from './providers/status';
import { resolvers } from './resolvers';

const typeDefs = parse(readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8'));

export interface AiServerOptions {
  db: Db;
  signingSecret: string;
  log: Logger;
  /** Where the memes subgraph (the catalog) answers internal calls. */
  memesUrl: string;
  tiers: TierTable;
  queue: QueueSettings;
  /**
   * With Redis, jobs go to BullMQ and run in worker processes (worker-main.ts);
   * without, an in-process queue runs them here with `provider`.
   */
  redis: { url: string; prefix: string } | null;
  provider: PooledProvider;
}

export function createCatalogFor(signingSecret: string, memesUrl: string): Catalog {
  return createCatalog(createInternalClient({ caller: 'ai', signingSecret }), memesUrl);
}

/** Templates change rarely: one catalog call serves a minute of requests. */
function cachedTemplates(catalog: Catalog): () => Promise<{ id: string; name: string }[]> {
  let cached: { at: number; value: Promise<{ id: string; name: string }[]> } | undefined;
  return () => {
    if (!cached || Date.now() - cached.at > 60_000) {
      const value = catalog.templates();
      cached = { at: Date.now(), value };
      value.catch(() => (cached = undefined));
    }
    return cached.value;
  };
}

export async function createAiServer(options: AiServerOptions): Promise<SubgraphServer> {
  const catalog = createCatalogFor(options.signingSecret, options.memesUrl);
  const redis = options.redis ? new Redis(options.redis.url, { maxRetriesPerRequest: 2 }) : null;
  const prefix = options.redis?.prefix ?? '';
  const results = createResultCache(redis, prefix);
  let queue: GenerationQueue;
  let keyStatus: () => Promise<KeyStats[]>;
  if (options.redis && redis) {
    queue = new BullMqQueue(options.redis.url, prefix, options.queue);
    const board = keyStatusBoard(redis, prefix);
    keyStatus = () => board.read();
  } else {
    const deps: RunDependencies = { store: createGenerationStore(options.db), catalog, provider: options.provider, results, log: options.log };
    queue = new MemoryQueue(options.queue, deps);
    keyStatus = async () => options.provider.stats();
  }
  const services: AiServices = {
    db: options.db,
    catalog,
    queue,
    results,
    rate: createGenerationRateLimit(redis, prefix),
    tiers: options.tiers,
    providerName: options.provider.name,
    keyStatus,
    templates: cachedTemplates(catalog),
  };
  return createSubgraphServer({
    name: 'ai',
    schema: buildSubgraphSchema({ typeDefs, resolvers: resolvers as GraphQLResolverMap<unknown> }),
    signingSecret: options.signingSecret,
    log: options.log,
    context: (viewer) => createContext(viewer, services),
    async onClose() {
      await queue.close();
      redis?.disconnect();
    },
  });
}
