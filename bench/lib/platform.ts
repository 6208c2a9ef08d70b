import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { cacheKeyKinds } from '@memegraph/router/cache-keys';
import { createRedis, openDb, type Db, type Queryable, type Redis } from '@memegraph/service-kit';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../test/support/database';
import { startReplicatedPostgres } from '../../test/support/pgReplica';
import { processesCpu, type ProcessesCpu } from './machine';
import { serverFile, startProcess, type BenchProcess } from './process';

/**
 * What every scenario runs against: a fresh database, the three subgraphs in
 * one process, the AI worker in another, a Redis prefix of its own.
 */
export interface Platform {
  subgraphs: BenchProcess;
  /** Runs the generation jobs the ai subgraph queues in BullMQ. */
  aiWorker: BenchProcess;
  /** The run's database, for reading what the services stored (tables named with their schema, e.g. `ai.generations`). */
  sql: Queryable;
  subgraphUrls: { users: string; memes: string; ai: string };
  secrets: { signing: string; jwt: string };
  redisUrl: string;
  redisPrefix: string;
  /** CPU seconds Redis has used since it started (`INFO cpu`): limits, quotas and caches cost Redis time too. */
  redisCpuSeconds(): Promise<number>;
  /**
   * CPU of the PostgreSQL backends serving the benchmark's database (not other databases' users); with
   * `replica`, of the primary's only. Null without /proc.
   */
  postgresCpu(): ProcessesCpu | null;
  /** With `replica`: a streaming replica of the benchmark's database, and subgraphs that read from it. */
  replica?: {
    url: string;
    /** Starts the three subgraphs once more, on the same database, reading from the replica (read-your-writes on). */
    startSubgraphs(): Promise<{ process: BenchProcess; urls: { users: string; memes: string; ai: string } }>;
  };
  /**
   * Deletes the routers' cached answers and entities (and their tags' versions) from Redis, so that a scenario
   * starts on empty caches whatever ran before it; limits, queues and the subgraphs' keys stay.
   */
  clearCaches(): Promise<number>;
  /** Stops the worker and the subgraphs, drops the database, deletes the Redis prefix. */
  close(): Promise<{ redisKeysDeleted: number }>;
}

export interface PlatformOptions {
  /** Seeded rows. */
  users: number;
  memes: number;
  /** Where the routers under test keep limits, quotas and buckets. */
  redisUrl: string;
  /**
   * A PostgreSQL primary and one streaming replica of the bench's own (started on free ports) instead
   * of a database on the shared server, so reads sent to the replica can be told from the primary's load.
   */
  replica?: boolean;
  /** Where the subgraphs processes write V8 CPU profiles (`--cpu-prof`); unset: not profiled. */
  subgraphsProfileDir?: string;
}

/** The bench's own primary and replica: a database on each, the same one. */
async function replicatedDatabase(): Promise<TestDatabase & { replicaUrl: string }> {
  const cluster = await startReplicatedPostgres();
  try {
    const admin = new pg.Client({ connectionString: cluster.primaryUrl });
    await admin.connect();
    await admin.query('CREATE DATABASE memegraph_bench');
    await admin.end();
  } catch (error) {
    await cluster.close();
    throw error;
  }
  const on = (url: string) => Object.assign(new URL(url), { pathname: '/memegraph_bench' }).toString();
  return { url: on(cluster.primaryUrl), replicaUrl: on(cluster.replicaUrl), drop: () => cluster.close() };
}

export async function startPlatform(options: PlatformOptions): Promise<Platform> {
  // Redis first: without it nothing else is worth starting.
  const redis = await connectRedis(options.redisUrl, 'memegraph-bench');
  const database = await (options.replica ? replicatedDatabase() : createTestDatabase()).catch(
    async (error: unknown) => {
      await redis.quit();
      throw error;
    },
  );
  const secrets = { signing: randomBytes(32).toString('hex'), jwt: randomBytes(32).toString('hex') };
  const redisPrefix = `memegraph-bench:${randomBytes(6).toString('hex')}:`;
  const started: BenchProcess[] = [];
  let sql: Db | undefined;
  let subgraphs: BenchProcess;
  let aiWorker: BenchProcess;
  const url = (name: string) => {
    const value = subgraphs.info[name];
    if (!value) throw new Error(`the subgraphs process reported no ${name} URL`);
    return value;
  };
  const subgraphsEnv = {
    DATABASE_URL: database.url,
    SUBGRAPH_SIGNING_SECRET: secrets.signing,
    JWT_SECRET: secrets.jwt,
    SEED_USERS: String(options.users),
    SEED_MEMES: String(options.memes),
    REDIS_URL: options.redisUrl,
    REDIS_PREFIX: redisPrefix,
    LOG_LEVEL: 'warn',
    // As the image runs them (Dockerfile): graphql-js and Apollo Server take their production paths.
    NODE_ENV: 'production',
  };
  // A directory per process: tsx's loader thread writes a profile of its own next to the main thread's.
  const profiled = (name: string) =>
    options.subgraphsProfileDir ? ['--cpu-prof', '--cpu-prof-dir', join(options.subgraphsProfileDir, name)] : [];
  try {
    subgraphs = await startProcess('subgraphs', serverFile('subgraphs'), subgraphsEnv, profiled('subgraphs'));
    started.push(subgraphs);
    aiWorker = await startProcess('ai-worker', serverFile('aiWorker'), {
      DATABASE_URL: database.url,
      SUBGRAPH_SIGNING_SECRET: secrets.signing,
      MEMES_URL: new URL(url('memes')).origin,
      REDIS_URL: options.redisUrl,
      REDIS_PREFIX: redisPrefix,
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
    });
    started.push(aiWorker);
    sql = await openDb({ schema: 'public', databaseUrl: database.url, poolSize: 2 });
  } catch (error) {
    for (const process of started.reverse()) await process.stop();
    await sql?.close();
    await redis.quit();
    await database.drop();
    throw error;
  }
  const db = sql;
  const extra: BenchProcess[] = [];
  // A backend's command line names its database: "postgres: 15/main: user <database> host(port) state".
  const databaseName = new URL(database.url).pathname.slice(1);
  return {
    subgraphs,
    aiWorker,
    sql: db,
    subgraphUrls: { users: url('users'), memes: url('memes'), ai: url('ai') },
    secrets,
    redisUrl: options.redisUrl,
    redisPrefix,
    async redisCpuSeconds() {
      const info = await redis.info('cpu');
      const seconds = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
      return seconds('used_cpu_sys') + seconds('used_cpu_user');
    },
    postgresCpu: () =>
      processesCpu(
        (name, commandLine) =>
          name === 'postgres' &&
          commandLine.includes(` ${databaseName} `) &&
          (!options.replica || commandLine.includes('memegraph-primary:')),
      ),
    ...('replicaUrl' in database && {
      replica: {
        url: database.replicaUrl as string,
        async startSubgraphs() {
          const process = await startProcess(
            'subgraphs-replica',
            serverFile('subgraphs'),
            {
              ...subgraphsEnv,
              DATABASE_REPLICA_URLS: database.replicaUrl as string,
              // The first subgraphs process migrated and seeded the database.
              MIGRATE_AND_SEED: 'false',
            },
            profiled('subgraphs-replica'),
          );
          extra.push(process);
          const at = (name: string) => process.info[name]!;
          return { process, urls: { users: at('users'), memes: at('memes'), ai: at('ai') } };
        },
      },
    }),
    clearCaches: () => deletePrefix(options.redisUrl, redisPrefix, CACHE_KINDS),
    async close() {
      await redis.quit();
      return closePlatform([aiWorker, ...extra, subgraphs], db, database, options.redisUrl, redisPrefix);
    },
  };
}

async function closePlatform(
  processes: BenchProcess[],
  db: Db,
  database: TestDatabase,
  redisUrl: string,
  redisPrefix: string,
) {
  try {
    // The worker first: it calls the subgraphs while it finishes a job.
    for (const process of processes) await process.stop();
    await db.close();
  } finally {
    await database.drop();
  }
  return { redisKeysDeleted: await deletePrefix(redisUrl, redisPrefix) };
}

/** A connection that is ready: service-kit's clients refuse commands until then rather than queue them. */
async function connectRedis(url: string, name: string): Promise<Redis> {
  const redis = createRedis(url, name);
  if (redis.status === 'ready') return redis;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Redis at ${url} did not answer within 5 s`)), 5_000);
      redis.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  return redis;
}

/** The kinds of key the routers' response and entity caches write under their prefix (`<prefix><kind>:…`). */
const CACHE_KINDS = Object.values(cacheKeyKinds()).flatMap((kinds) => Object.values(kinds));

/** Deletes every key under `prefix`, or only those of the given kinds (`<prefix><kind>:…`). */
async function deletePrefix(redisUrl: string, prefix: string, kinds?: readonly string[]): Promise<number> {
  const redis = await connectRedis(redisUrl, 'memegraph-bench-cleanup');
  let deleted = 0;
  try {
    for (const pattern of kinds ? kinds.map((kind) => `${prefix}${kind}:*`) : [`${prefix}*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (keys.length) deleted += await redis.unlink(...keys);
      } while (cursor !== '0');
    }
  } finally {
    await redis.quit();
  }
  return deleted;
}
