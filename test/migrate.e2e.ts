import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database';

/** `npm run migrate` as the image's `migrate` entry runs it, from the sources (the build runs the same code). */
const MIGRATE = fileURLToPath(new URL('../scripts/migrate.ts', import.meta.url));
const USERS_MAIN = fileURLToPath(new URL('../subgraphs/users/src/main.ts', import.meta.url));
const SUBGRAPHS = ['users', 'memes', 'ai'] as const;
const migrationFiles = (schema: string) =>
  readdirSync(fileURLToPath(new URL(`../subgraphs/${schema}/migrations`, import.meta.url)))
    .filter((f) => f.endsWith('.sql'))
    .sort();

interface LogLine {
  msg?: string;
  schema?: string;
  applied?: string[];
}

function run(
  file: string,
  env: Record<string, string>,
  until?: string,
): Promise<{ code: number | null; lines: LogLine[]; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as LogLine;
      lines.push(entry);
      if (until && entry.msg === until) resolve({ code: null, lines, stop });
    });
    void exited.then((code) => {
      if (until) reject(new Error(`exited with code ${code} before "${until}": ${stderr}`));
      else resolve({ code, lines, stop });
    });
  });
}

describe('migrations as a step (npm run migrate)', () => {
  let database: TestDatabase;
  let db: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    db = new pg.Client({ connectionString: database.url });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await database?.drop();
  });

  it('leaves the schema alone in a subgraph started with MIGRATE_ON_START=false', async () => {
    const users = await run(
      USERS_MAIN,
      {
        DATABASE_URL: database.url,
        PORT: '0',
        MIGRATE_ON_START: 'false',
        SUBGRAPH_SIGNING_SECRET: 's'.repeat(32),
        JWT_SECRET: 'j'.repeat(32),
      },
      'users subgraph ready',
    );
    await users.stop();
    const { rows } = await db.query<{ table: string | null }>(
      `SELECT to_regclass('users.schema_migrations')::text AS table`,
    );
    expect(rows).toEqual([{ table: null }]);
  });

  it('applies every subgraph migration exactly once when several runs start together on a fresh database', async () => {
    const runs = await Promise.all(Array.from({ length: 4 }, () => run(MIGRATE, { DATABASE_URL: database.url })));
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0]);

    // Across the four runs, each file was applied by one of them, and the others found it done.
    const applied = runs.flatMap((r) =>
      r.lines.flatMap((l) => (l.msg === 'migrations applied' ? l.applied!.map((f) => `${l.schema}/${f}`) : [])),
    );
    const expected = SUBGRAPHS.flatMap((schema) => migrationFiles(schema).map((f) => `${schema}/${f}`));
    expect(applied.sort()).toEqual(expected.sort());
    for (const schema of SUBGRAPHS) {
      const { rows } = await db.query<{ name: string }>(`SELECT name FROM ${schema}.schema_migrations ORDER BY name`);
      expect(rows.map((r) => r.name)).toEqual(migrationFiles(schema));
    }
    // The tables are there: the subgraphs can start without migrating.
    const { rows: tables } = await db.query<{ t: string | null }>(
      `SELECT to_regclass(t)::text AS t FROM unnest(ARRAY['users.users', 'memes.memes', 'ai.generations']) AS t`,
    );
    expect(tables.map((r) => r.t)).toEqual(['users.users', 'memes.memes', 'ai.generations']);

    const again = await run(MIGRATE, { DATABASE_URL: database.url });
    expect(again.code).toBe(0);
    expect(again.lines.filter((l) => l.msg === 'schema up to date').map((l) => l.schema)).toEqual([...SUBGRAPHS]);
  });
});
