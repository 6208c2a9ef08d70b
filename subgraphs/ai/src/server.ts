import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { Gauge } from 'prom-client';
import {
  createInternalClient,
  createMetrics,
  createRedis,
  createSubgraphServer,
  type Db,
  type Logger,
  type RedisTarget,
  type SubgraphServer,
  type TierTable,
} from '@memegraph/service-kit';
import { createCatalog, type Catalog } from './catalog';
import { createContext, type AiServices } from './context';
import { generationAnnouncer } from './generations/events';
import { BullMqQueue, MemoryQueue, type GenerationQueue, type QueueSettings } from './generations/queue';
import { createGenerationRateLimit, type Clock } from './generations/rate';
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
  redis: (RedisTarget & { prefix: string }) | null;
  provider: PooledProvider;
  /** The generations-per-minute limit's clock, for tests; by default Redis's (or this process's without Redis). */
  clock?: Clock;
  /** Opens `/metrics` off loopback to this bearer token (`METRICS_TOKEN`); unset: loopback only. */
  metricsToken?: string;
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
  // Nothing here falls back to in-process state: commands wait through a short reconnect rather than fail at once.
  const redis = options.redis
    ? createRedis(options.redis, 'memegraph-ai', { maxRetriesPerRequest: 2, offlineQueue: true })
    : null;
  const prefix = options.redis?.prefix ?? '';
  const results = createResultCache(redis, prefix);
  let queue: GenerationQueue;
  let keyStatus: () => Promise<KeyStats[]>;
  if (options.redis && redis) {
    queue = new BullMqQueue(redis, prefix, options.queue, generationAnnouncer(redis, prefix, options.log));
    const board = keyStatusBoard(redis, prefix);
    keyStatus = () => board.read();
  } else {
    const deps: RunDependencies = {
      store: createGenerationStore(options.db),
      catalog,
      provider: options.provider,
      results,
      log: options.log,
    };
    queue = new MemoryQueue(options.queue, deps);
    keyStatus = async () => options.provider.stats();
  }
  const services: AiServices = {
    db: options.db,
    catalog,
    queue,
    results,
    rate: createGenerationRateLimit(redis, prefix, options.clock),
    tiers: options.tiers,
    providerName: options.provider.name,
    keyStatus,
    templates: cachedTemplates(catalog),
  };
  const metrics = createMetrics('ai');
  // Read at scrape time: queue depth and every key's health.
  new Gauge({
    name: 'ai_queue_jobs',
    help: 'Generation jobs waiting and running',
    labelNames: ['state'],
    registers: [metrics.registry],
    async collect() {
      const depth = await queue.depth();
      this.set({ state: 'waiting' }, depth.waiting);
      this.set({ state: 'active' }, depth.active);
    },
  });
  const BREAKER = { closed: 0, 'half-open': 1, open: 2, isolated: 3 } as const;
  new Gauge({
    name: 'ai_key_breaker_state',
    help: 'Circuit breaker of each provider key: 0 closed, 1 half-open, 2 open, 3 isolated',
    labelNames: ['key'],
    registers: [metrics.registry],
    async collect() {
      this.reset();
      for (const key of await keyStatus()) this.set({ key: key.id }, BREAKER[key.breaker]);
    },
  });
  new Gauge({
    name: 'ai_key_requests',
    help: 'Attempts per provider key by outcome since the worker started',
    labelNames: ['key', 'outcome'],
    registers: [metrics.registry],
    async collect() {
      this.reset();
      for (const key of await keyStatus()) {
        this.set({ key: key.id, outcome: 'success' }, key.successes);
        this.set({ key: key.id, outcome: 'failure' }, key.failures);
        this.set({ key: key.id, outcome: 'throttled' }, key.throttled);
      }
    },
  });
  return createSubgraphServer({
    metrics,
    db: options.db,
    metricsToken: options.metricsToken,
    name: 'ai',
    schema: buildSubgraphSchema([{ typeDefs, resolvers }]),
    signingSecret: options.signingSecret,
    log: options.log,
    context: (viewer) => createContext(viewer, services),
    async onClose() {
      await queue.close();
      redis?.disconnect();
    },
  });
}
