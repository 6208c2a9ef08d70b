/**
 * `npm run migrate` (and `migrate` in the image): applies the migrations of
 * every subgraph to PostgreSQL (DATABASE_URL) once, as a step of a deploy of
 * its own, before the services start with MIGRATE_ON_START=false.
 *
 * Each subgraph's migrations run in one transaction under an advisory lock on
 * its schema (service-kit's `migrate`): several runs started together — a Job
 * retried, replicas that still migrate at start — take turns, and each file is
 * applied once.
 */
import { subgraph as ai } from '@memegraph/ai';
import { subgraph as memes } from '@memegraph/memes';
import { createLogger, env, migrate, openDb, readConfig } from '@memegraph/service-kit';
import { subgraph as users } from '@memegraph/users';

const config = readConfig({ DATABASE_URL: env.optional(), LOG_LEVEL: env.optional() });
if (!config.DATABASE_URL) {
  // Embedded PGlite belongs to the one process of its service, which migrates it at start.
  throw new Error(
    'Invalid configuration:\n  DATABASE_URL: migrations as a step need PostgreSQL; embedded databases migrate at start',
  );
}
const log = createLogger('migrate', config.LOG_LEVEL ?? 'info');

for (const { name: schema, migrations } of [users, memes, ai]) {
  const db = await openDb({ schema, databaseUrl: config.DATABASE_URL, poolSize: 1 });
  try {
    const applied = await migrate(db, migrations);
    log.info({ schema, applied }, applied.length ? 'migrations applied' : 'schema up to date');
  } finally {
    await db.close();
  }
}
