import { createLogger, drainOnSignal, env, metricsEnv, migrate, openDb, readConfig } from '@memegraph/service-kit';
import { MIGRATIONS_DIR, createMemesServer } from './server';
import { seedMemes } from './seed';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

const config = readConfig({
  PORT: env.port(4002),
  HOST: env.optional(),
  /** PostgreSQL; without it the same SQL runs on embedded PGlite in DATA_DIR. */
  DATABASE_URL: env.optional(),
  DATA_DIR: env.optional(),
  SUBGRAPH_SIGNING_SECRET: env.secret(),
  /** Origin of image URLs when clients reach this service through another address. */
  PUBLIC_URL: env.url().optional(),
  SEED_USERS: env.int(0),
  SEED_MEMES: env.int(0),
  /** false when migrations run as a step of their own (`npm run migrate`) before the services start. */
  MIGRATE_ON_START: env.bool(true),
  LOG_LEVEL: env.optional(),
  ...metricsEnv,
});
const logLevel = config.LOG_LEVEL ?? 'info';
if (!LOG_LEVELS.includes(logLevel))
  throw new Error(`Invalid configuration:\n  LOG_LEVEL: must be one of ${LOG_LEVELS.join(', ')}`);
if (config.SEED_MEMES > 0 && config.SEED_USERS < 1) {
  throw new Error(
    'Invalid configuration:\n  SEED_USERS: must be at least 1 when SEED_MEMES is set (memes need authors)',
  );
}

const log = createLogger('memes', logLevel);
const db = await openDb({
  schema: 'memes',
  databaseUrl: config.DATABASE_URL,
  dataDir: config.DATABASE_URL ? undefined : (config.DATA_DIR ?? '.data/memes'),
});
if (config.MIGRATE_ON_START) {
  const applied = await migrate(db, MIGRATIONS_DIR);
  if (applied.length) log.info({ applied }, 'migrations applied');
}

if (config.SEED_MEMES > 0) {
  const seeded = await db.transaction(async (tx) => {
    // Replicas starting together take turns; only the first finds the catalog empty.
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['memegraph:seed:memes']);
    const [state] = await tx.query<{ empty: boolean }>('SELECT NOT EXISTS (SELECT 1 FROM memes) AS empty');
    return state?.empty ? seedMemes(tx, { users: config.SEED_USERS, memes: config.SEED_MEMES }) : null;
  });
  if (seeded) log.info(seeded, 'catalog seeded');
}

const server = await createMemesServer({
  db,
  signingSecret: config.SUBGRAPH_SIGNING_SECRET,
  log,
  publicUrl: config.PUBLIC_URL,
  metricsToken: config.METRICS_TOKEN,
});
const url = await server.listen(config.PORT, config.HOST ?? '127.0.0.1');
log.info({ url: `${url}/graphql`, database: db.kind }, 'memes subgraph listening');
drainOnSignal(log, async () => {
  await server.close();
  await db.close();
});
