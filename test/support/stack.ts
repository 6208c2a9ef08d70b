import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  AI_MIGRATIONS,
  DEFAULT_QUEUE_SETTINGS,
  createAiServer,
  createCatalogFor,
  createGenerationStore,
  createProvider,
  createResultCache,
  readAiProvidersConfig,
  startBullMqWorker,
  type QueueSettings,
} from '@memegraph/ai';
import { MIGRATIONS_DIR as MEMES_MIGRATIONS, createMemesServer, seedMemes } from '@memegraph/memes';
import { createRouter, loadRouterConfig, type Router } from '@memegraph/router';
import {
  DEFAULT_TIERS,
  createLogger,
  createRedis,
  loadTiers,
  migrate,
  openDb,
  type Db,
  type Logger,
  type RedisTarget,
  type SubgraphServer,
} from '@memegraph/service-kit';
import { USERS_MIGRATIONS, createUsersServer, localProvider, seedUsers, type BillingProvider } from '@memegraph/users';
import { createTestDatabase, type TestDatabase } from './database';
import { dropKeys } from './redis';
import type { LocalRedisCluster } from './redisCluster';

export interface Stack {
  routerUrl: string;
  subgraphUrls: { users: string; memes: string; ai: string };
  dbs: { users: Db; memes: Db; ai: Db };
  secrets: { signing: string; jwt: string };
  /** The Redis key prefix of this stack. */
  redisPrefix: string;
  /** The stack's database, for processes the test starts itself. */
  databaseUrl: string;
  /** Starts a BullMQ worker in this process (stacks with `ai.queue: 'bullmq'`). */
  startAiWorker(): void;
  /** The router configuration every router of this stack shares. */
  routerEnv: Record<string, string>;
  addRouter(env?: Record<string, string>, log?: Logger): Promise<string>;
  /** GraphQL requests each subgraph has served. */
  subgraphRequests(): { users: number; memes: number; ai: number };
  /** Stops a subgraph's HTTP server, as if the service went down. */
  stopSubgraph(name: 'users' | 'memes' | 'ai'): Promise<void>;
  /** Starts a stopped subgraph again on the port it had, as if the service came back. */
  restartSubgraph(name: 'users' | 'memes' | 'ai'): Promise<void>;
  close(): Promise<void>;
}

export interface StackOptions {
  users?: number;
  memes?: number;
  /** Extra router configuration, e.g. `TIERS_JSON`. */
  routerEnv?: Record<string, string>;
  /** Log-in throttling of the users subgraph, over its defaults. */
  loginThrottle?: { failuresPerHandle?: number; failuresPerAddress?: number };
  /** A PostgreSQL primary with read replicas of the test's own, instead of a fresh database on the shared server. */
  replicated?: { primaryUrl: string; replicaUrls: string[]; maxLagMs: number; now?: () => number };
  /** Who takes payments for paid plans; the built-in local provider (paid at once) by default; null: none. */
  billing?: BillingProvider | null;
  /** Run without Redis: every limit and cache in-process. */
  noRedis?: boolean;
  /** Routers on this Redis Cluster (`REDIS_CLUSTER_NODES`) instead of the shared test Redis. */
  redisCluster?: LocalRedisCluster;
  ai?: {
    /** BullMQ on Redis instead of the in-process queue. */
    queue?: 'bullmq' | 'memory';
    /** With BullMQ: run a worker in this process, or none (the test starts real worker processes). */
    worker?: 'in-process' | 'none';
    /** The provider settings, as AI_PROVIDERS and friends would give them. */
    providerEnv?: Record<string, string>;
    settings?: Partial<QueueSettings>;
    tiersJson?: string;
  };
}

/** Deletes every key a stack left under its prefix. */
async function dropRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    await dropKeys(redis, prefix);
  } finally {
    redis.disconnect();
  }
}

/** Tier overrides for tests about something other than limits. */
export const GENEROUS_ANONYMOUS = JSON.stringify({
  anonymous: { maxCostPerOperation: 100_000, costBucketCapacity: 1_000_000, requestsPerMinute: 100_000 },
});

/** The real Redis the tests share; each stack keeps its keys under a prefix of its own. */
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * The whole platform in this process, on port 0, against a fresh database
 * on the real PostgreSQL: three subgraphs and the router, as `npm start` runs them.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const database = options.replicated
    ? { url: options.replicated.primaryUrl, drop: async () => undefined }
    : await createTestDatabase();
  try {
    return await startOn(database, options);
  } catch (error) {
    await database.drop();
    throw error;
  }
}

async function startOn(database: TestDatabase, options: StackOptions): Promise<Stack> {
  const secrets = { signing: randomBytes(32).toString('hex'), jwt: randomBytes(32).toString('hex') };
  const redisPrefix = `memegraph-test:${randomBytes(6).toString('hex')}:`;
  const log = createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent');
  const open = async (schema: string, migrations: string) => {
    const replicated = options.replicated;
    const db = await openDb({
      schema,
      databaseUrl: database.url,
      poolSize: 5,
      // The test polls the replicas itself (db.replicas.poll()), with its own clock.
      ...(replicated && {
        replicas: {
          urls: replicated.replicaUrls,
          redis: createRedis(TEST_REDIS_URL, `memegraph-test-${schema}-replicas`),
          ownsRedis: true,
          prefix: redisPrefix,
          maxLagMs: replicated.maxLagMs,
          pollIntervalMs: 3_600_000,
          now: replicated.now,
        },
      }),
    });
    await migrate(db, migrations);
    return db;
  };
  const dbs = {
    users: await open('users', USERS_MIGRATIONS),
    memes: await open('memes', MEMES_MIGRATIONS),
    ai: await open('ai', AI_MIGRATIONS),
  };
  const userCount = options.users ?? 20;
  await seedUsers(dbs.users, { users: userCount });
  await seedMemes(dbs.memes, { users: userCount, memes: options.memes ?? 200 });

  const servers: SubgraphServer[] = [];
  const start = async (server: SubgraphServer) => {
    servers.push(server);
    return `${await server.listen(0)}/graphql`;
  };
  const users = await start(
    await createUsersServer({
      db: dbs.users,
      signingSecret: secrets.signing,
      log,
      jwtSecret: new TextEncoder().encode(secrets.jwt),
      sessionTtlSeconds: 3600,
      tiers: DEFAULT_TIERS,
      // Paid at once, as with `npm start`: `subscribe` alone puts a viewer on a paid plan.
      billing: options.billing === undefined ? localProvider() : options.billing,
      ...(options.loginThrottle ? { loginThrottle: options.loginThrottle } : {}),
    }),
  );
  const memes = await start(await createMemesServer({ db: dbs.memes, signingSecret: secrets.signing, log }));
  const aiOptions = options.ai ?? {};
  const memesOrigin = new URL(memes).origin;
  const provider = createProvider(readAiProvidersConfig(aiOptions.providerEnv ?? {}), log);
  const settings: QueueSettings = {
    ...DEFAULT_QUEUE_SETTINGS,
    concurrency: 20,
    maxWaiting: 1_000,
    jobTimeoutMs: 30_000,
    ...aiOptions.settings,
  };
  const redisTarget: RedisTarget = options.redisCluster
    ? { clusterNodes: options.redisCluster.nodes }
    : { url: TEST_REDIS_URL };
  const aiRedis = aiOptions.queue === 'bullmq' ? { ...redisTarget, prefix: redisPrefix } : null;
  const ai = await start(
    await createAiServer({
      db: dbs.ai,
      signingSecret: secrets.signing,
      log,
      memesUrl: memesOrigin,
      tiers: loadTiers(aiOptions.tiersJson),
      queue: settings,
      redis: aiRedis,
      provider,
    }),
  );
  const workers: { close(): Promise<void> }[] = [];
  /** A BullMQ worker in this process, as worker-main.ts runs one. */
  const startAiWorker = () => {
    if (!aiRedis) throw new Error('the stack runs the in-process queue');
    const workerRedis = createRedis(redisTarget, 'memegraph-test-ai-worker', {
      maxRetriesPerRequest: 2,
      offlineQueue: true,
    });
    const worker = startBullMqWorker({
      redisTarget,
      redis: workerRedis,
      prefix: redisPrefix,
      settings,
      lockDurationMs: 5_000,
      reconcileIntervalMs: 30_000,
      deps: {
        store: createGenerationStore(dbs.ai),
        catalog: createCatalogFor(secrets.signing, memesOrigin),
        provider,
        results: createResultCache(workerRedis, redisPrefix),
        log,
      },
      log,
    });
    workers.push({
      async close() {
        await worker.close();
        workerRedis.disconnect();
      },
    });
  };
  if (aiRedis && aiOptions.worker !== 'none') startAiWorker();
  const routerEnv = {
    SUBGRAPH_SIGNING_SECRET: secrets.signing,
    JWT_SECRET: secrets.jwt,
    SUBGRAPH_URL_USERS: users,
    SUBGRAPH_URL_MEMES: memes,
    SUBGRAPH_URL_AI: ai,
    ...(options.noRedis
      ? {}
      : options.redisCluster
        ? { REDIS_CLUSTER_NODES: options.redisCluster.nodesEnv, REDIS_PREFIX: redisPrefix }
        : { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: redisPrefix }),
    USAGE_FLUSH_MS: '200',
    ...options.routerEnv,
  };
  const routers: Router[] = [];
  /** Starts one more router on the same subgraphs and Redis, as another instance would. */
  const addRouter = async (env: Record<string, string> = {}, routerLog: Logger = log) => {
    const router = await createRouter(loadRouterConfig({ ...routerEnv, ...env }), routerLog);
    routers.push(router);
    return router.listen(0);
  };
  const routerUrl = await addRouter();

  return {
    routerUrl,
    subgraphUrls: { users, memes, ai },
    dbs,
    secrets,
    routerEnv,
    redisPrefix,
    databaseUrl: database.url,
    startAiWorker,
    addRouter,
    subgraphRequests: () => ({
      users: servers[0]!.stats.graphqlRequests,
      memes: servers[1]!.stats.graphqlRequests,
      ai: servers[2]!.stats.graphqlRequests,
    }),
    async stopSubgraph(name) {
      const server = servers[['users', 'memes', 'ai'].indexOf(name)]!.httpServer;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
    async restartSubgraph(name) {
      const index = ['users', 'memes', 'ai'].indexOf(name);
      await servers[index]!.listen(Number(new URL([users, memes, ai][index]!).port));
    },
    async close() {
      for (const router of routers) await router.close();
      for (const worker of workers) await worker.close();
      for (const server of servers.reverse()) await server.close();
      for (const db of Object.values(dbs)) await db.close();
      await database.drop();
      if (options.redisCluster) await options.redisCluster.dropPrefix(redisPrefix);
      else if (!options.noRedis) await dropRedisPrefix(redisPrefix);
    },
  };
}
