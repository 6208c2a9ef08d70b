/**
 * The three subgraphs in one process, on port 0, against the benchmark's
 * database: migrated and seeded here, as `npm start` does. The ai subgraph
 * queues generations in BullMQ on the run's Redis prefix, for the worker
 * process (`aiWorker.ts`), as `npm start` runs it with PostgreSQL and Redis.
 */
import {
  AI_MIGRATIONS,
  DEFAULT_QUEUE_SETTINGS,
  createAiServer,
  createProvider,
  readAiProvidersConfig,
} from '@memegraph/ai';
import { MIGRATIONS_DIR as MEMES_MIGRATIONS, createMemesServer, seedMemes } from '@memegraph/memes';
import {
  createLogger,
  env,
  loadTiers,
  migrate,
  openDb,
  readConfig,
  replicaEnv,
  replicasOf,
  secretKey,
  type Db,
  type SubgraphServer,
} from '@memegraph/service-kit';
import { USERS_MIGRATIONS, createUsersServer, localProvider, seedUsers } from '@memegraph/users';
import { runBenchChild } from '../lib/child';

const config = readConfig({
  DATABASE_URL: env.optional(),
  SUBGRAPH_SIGNING_SECRET: env.secret(),
  JWT_SECRET: env.secret(),
  SEED_USERS: env.int(200, 1),
  SEED_MEMES: env.int(2_000),
  /** Tier limits, as the users and ai subgraphs apply them. */
  TIERS_JSON: env.optional(),
  LOG_LEVEL: env.optional(),
  /** The generation queue's Redis and key prefix (the routers' too: finished generations purge their caches). */
  REDIS_URL: env.optional(),
  REDIS_PREFIX: env.optional(),
  /** Reads on streaming replicas, as in production (`--replica`). */
  ...replicaEnv,
  /** false for a second subgraphs process on a database the first migrated and seeded. */
  MIGRATE_AND_SEED: env.bool(true),
});

await runBenchChild(async () => {
  if (!config.DATABASE_URL)
    throw new Error('Invalid configuration:\n  DATABASE_URL: required (the benchmark makes a database of its own)');
  if (!config.REDIS_URL || !config.REDIS_PREFIX)
    throw new Error('Invalid configuration:\n  REDIS_URL, REDIS_PREFIX: required (the generation queue)');
  const databaseUrl = config.DATABASE_URL;
  const log = createLogger('subgraphs', config.LOG_LEVEL ?? 'warn');
  const dbs: Db[] = [];
  const open = async (schema: string, migrations: string) => {
    const db = await openDb({
      schema,
      databaseUrl,
      replicas: replicasOf({ ...config, REDIS_PREFIX: config.REDIS_PREFIX! }, `bench-${schema}`),
    });
    dbs.push(db);
    if (config.MIGRATE_AND_SEED) await migrate(db, migrations);
    return db;
  };
  const users = await open('users', USERS_MIGRATIONS);
  const memes = await open('memes', MEMES_MIGRATIONS);
  const ai = await open('ai', AI_MIGRATIONS);
  if (config.MIGRATE_AND_SEED) {
    await seedUsers(users, { users: config.SEED_USERS });
    await seedMemes(memes, { users: config.SEED_USERS, memes: config.SEED_MEMES });
    // Fresh statistics now, so the planner has them from the first request and
    // autovacuum has no reason to wake up in the middle of a measurement.
    await memes.exec('VACUUM ANALYZE');
  }

  const tiers = loadTiers(config.TIERS_JSON);
  const listen = async (server: SubgraphServer) => `${await server.listen(0)}/graphql`;
  const usersServer = await createUsersServer({
    db: users,
    signingSecret: config.SUBGRAPH_SIGNING_SECRET,
    log,
    jwtSecret: secretKey(config.JWT_SECRET),
    sessionTtlSeconds: 3600,
    tiers,
    // Viewers are put on paid plans with `subscribe`: the built-in provider pays at once.
    billing: localProvider(),
  });
  const memesServer = await createMemesServer({ db: memes, signingSecret: config.SUBGRAPH_SIGNING_SECRET, log });
  const info: Record<string, string> = { users: await listen(usersServer), memes: await listen(memesServer) };
  // The ai subgraph hands finished memes to the memes subgraph, so it starts once memes listens.
  const aiServer = await createAiServer({
    db: ai,
    signingSecret: config.SUBGRAPH_SIGNING_SECRET,
    log,
    memesUrl: new URL(info.memes!).origin,
    tiers,
    queue: DEFAULT_QUEUE_SETTINGS,
    redis: { url: config.REDIS_URL, prefix: config.REDIS_PREFIX },
    // Runs no jobs here (the worker process does); named on every generation. The built-in offline provider: no network.
    provider: createProvider(readAiProvidersConfig({}), log),
  });
  info.ai = await listen(aiServer);
  const servers = [usersServer, memesServer, aiServer];

  return {
    info,
    httpServers: servers.map((s) => s.httpServer),
    counters: () => ({
      usersRequests: usersServer.stats.graphqlRequests,
      memesRequests: memesServer.stats.graphqlRequests,
      aiRequests: aiServer.stats.graphqlRequests,
    }),
    async close() {
      for (const server of [...servers].reverse()) await server.close();
      for (const db of dbs) await db.close();
    },
  };
});
