/**
 * `npm run seed -- --memes 100000 [--users 5000] [--reset]`: bulk-loads a
 * deterministic catalog into PostgreSQL (DATABASE_URL) or the embedded
 * databases under .data/ (stop `npm start` first: PGlite is single-process).
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { MIGRATIONS_DIR as MEMES_MIGRATIONS, seedMemes } from '@memegraph/memes';
import { migrate, openDb, type Db } from '@memegraph/service-kit';
import { USERS_MIGRATIONS, seedUsers } from '@memegraph/users';

const { values } = parseArgs({
  options: {
    memes: { type: 'string', default: '10000' },
    users: { type: 'string' },
    reset: { type: 'boolean', default: false },
  },
});
const memes = Number(values.memes);
const users = values.users === undefined ? Math.max(10, Math.ceil(memes / 20)) : Number(values.users);
if (!Number.isInteger(memes) || memes < 0 || !Number.isInteger(users) || users < 1) {
  console.error('usage: npm run seed -- --memes <count> [--users <count>] [--reset]');
  process.exit(2);
}

const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const dataDir = path.resolve(root, process.env.DATA_DIR ?? '.data');
const databaseUrl = process.env.DATABASE_URL;

async function prepare(schema: string, migrations: string): Promise<Db> {
  const db = await openDb({ schema, databaseUrl, dataDir: path.join(dataDir, schema) });
  if (values.reset) await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await migrate(db, migrations);
  return db;
}

async function isEmpty(db: Db, table: string): Promise<boolean> {
  const [row] = await db.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${table}) AS any`);
  return !row?.any;
}

const started = performance.now();
const usersDb = await prepare('users', USERS_MIGRATIONS);
const memesDb = await prepare('memes', MEMES_MIGRATIONS);
if (!(await isEmpty(usersDb, 'users')) || !(await isEmpty(memesDb, 'memes'))) {
  console.error('The database already holds users or memes; run again with --reset to replace them.');
  process.exit(1);
}
await seedUsers(usersDb, { users });
await seedMemes(memesDb, { users, memes });
await usersDb.close();
await memesDb.close();
console.log(
  `seeded ${users} users and ${memes} memes in ${((performance.now() - started) / 1000).toFixed(1)} s (${databaseUrl ? 'PostgreSQL' : dataDir})`,
);
