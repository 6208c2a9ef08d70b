import { z } from 'zod';
import { env, readConfig } from './config';
import { migrate, openDb, type Db, type DbOptions, type Queryable } from './db';
import { drainOnSignal } from './lifecycle';
import { createLogger, type Logger } from './log';
import { metricsEnv } from './metrics';
import type { SubgraphServer } from './subgraph';

/** How much demo data a first start writes (`SEED_USERS`, `SEED_MEMES`). */
export interface SeedCounts {
  users: number;
  memes: number;
}

/** What every subgraph server is given, whatever else it needs. */
export interface SubgraphBaseOptions {
  /** Migrated already; the caller owns it and closes it after the server. */
  db: Db;
  /** Shared with the router: only calls it signed are served. */
  signingSecret: string;
  log: Logger;
  /** Opens `/metrics` off loopback to this bearer token (`METRICS_TOKEN`); unset: loopback only. */
  metricsToken?: string;
}

/** The one shape each subgraph's entry (`@memegraph/<name>`) exports as `subgraph`. */
export interface SubgraphEntry<Options extends SubgraphBaseOptions = SubgraphBaseOptions> {
  /** The service's name: its database schema, its logs' `service`, its data directory. */
  name: string;
  /** Where it listens when PORT is not set. */
  defaultPort: number;
  /** Its GraphQL schema (SDL), which its resolvers and generated resolver types follow. */
  schemaFile: string;
  /** Its SQL migrations, applied in file-name order by service-kit's `migrate`. */
  migrations: string;
  /**
   * Writes demo data into an empty database; returns what it wrote, or null when there was nothing to do.
   * Runs in one transaction under a lock of its own, so replicas starting together seed once.
   */
  seed?: (tx: Queryable, counts: SeedCounts) => Promise<object | null>;
  /** Builds the HTTP server (its context factory and routes); it serves nothing until `listen`. */
  createServer(options: Options): Promise<SubgraphServer>;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The settings every subgraph reads, from the same variables. */
export const subgraphEnv = (defaultPort: number) => ({
  PORT: env.port(defaultPort),
  HOST: z.string().default('127.0.0.1'),
  /** PostgreSQL; without it the same SQL runs on embedded PGlite in DATA_DIR. */
  DATABASE_URL: env.optional(),
  DATA_DIR: env.optional(),
  SUBGRAPH_SIGNING_SECRET: env.secret(),
  SEED_USERS: env.int(0),
  SEED_MEMES: env.int(0),
  /** false when migrations run as a step of their own (`npm run migrate`) before the services start. */
  MIGRATE_ON_START: env.bool(true),
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  ...metricsEnv,
});

/** The common settings and a subgraph's own. */
export type SubgraphConfig<S extends z.ZodRawShape> = z.infer<z.ZodObject<ReturnType<typeof subgraphEnv>>> &
  z.infer<z.ZodObject<S>>;

export interface RunSubgraphOptions<Options extends SubgraphBaseOptions, S extends z.ZodRawShape> {
  /** The subgraph's own variables, read with the common ones. */
  env: S;
  /** More database options from the configuration. */
  db?: (config: SubgraphConfig<S>) => Partial<DbOptions>;
  /** The server's options beyond the common ones. */
  server: (config: SubgraphConfig<S>, log: Logger, db: Db) => Omit<Options, keyof SubgraphBaseOptions>;
}

/**
 * Opens a subgraph's database (its tables in the schema of its name) and, unless told not to, applies its
 * migrations under their lock: the subgraph's process and any worker of its own open it the same way.
 */
export async function openSubgraphDb(
  entry: Pick<SubgraphEntry, 'name' | 'migrations'>,
  options: Omit<DbOptions, 'schema'> & { migrate: boolean; log: Logger },
): Promise<Db> {
  const { migrate: migrateOnOpen, log, ...dbOptions } = options;
  const db = await openDb({ ...dbOptions, schema: entry.name });
  if (migrateOnOpen) {
    const applied = await migrate(db, entry.migrations);
    if (applied.length) log.info({ applied }, 'migrations applied');
  }
  return db;
}

/**
 * A subgraph's process: reads its configuration (failing at once on a bad variable), opens its
 * database, applies its migrations (under a lock; not with MIGRATE_ON_START=false), seeds an empty
 * database when asked, listens, and drains on SIGTERM.
 */
export async function runSubgraph<Options extends SubgraphBaseOptions, S extends z.ZodRawShape>(
  entry: SubgraphEntry<Options>,
  options: RunSubgraphOptions<Options, S>,
): Promise<SubgraphServer> {
  // One read, so a start with several bad variables names them all.
  const config = readConfig({ ...subgraphEnv(entry.defaultPort), ...options.env }) as unknown as SubgraphConfig<S>;
  const log = createLogger(entry.name, config.LOG_LEVEL);
  const db = await openSubgraphDb(entry, {
    databaseUrl: config.DATABASE_URL,
    dataDir: config.DATABASE_URL ? undefined : (config.DATA_DIR ?? `.data/${entry.name}`),
    ...options.db?.(config),
    migrate: config.MIGRATE_ON_START,
    log,
  });
  const counts = { users: config.SEED_USERS, memes: config.SEED_MEMES };
  if (entry.seed && (counts.users > 0 || counts.memes > 0)) {
    const seed = entry.seed;
    const seeded = await db.transaction(async (tx) => {
      // Replicas starting together take turns; only the first finds the database empty.
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`memegraph:seed:${entry.name}`]);
      return seed(tx, counts);
    });
    if (seeded) log.info(seeded, 'seeded');
  }
  const server = await entry.createServer({
    ...options.server(config, log, db),
    db,
    signingSecret: config.SUBGRAPH_SIGNING_SECRET,
    log,
    metricsToken: config.METRICS_TOKEN,
  } as Options);
  const url = await server.listen(config.PORT, config.HOST);
  log.info({ url: `${url}/graphql`, database: db.kind }, `${entry.name} subgraph ready`);
  drainOnSignal(log, async () => {
    await server.close();
    await db.close();
  });
  return server;
}
