import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database';

/** Each subgraph's process as `npm start` runs it, from the sources: service-kit's runSubgraph. */
const main = (name: string) => fileURLToPath(new URL(`../subgraphs/${name}/src/main.ts`, import.meta.url));
const SECRETS = { SUBGRAPH_SIGNING_SECRET: 's'.repeat(32), JWT_SECRET: 'j'.repeat(32) };

interface LogLine {
  msg?: string;
  url?: string;
}

interface Started {
  url: string;
  lines: LogLine[];
  stop(): Promise<number | null>;
}

/** Starts a subgraph; resolves once it logs `<name> subgraph ready`, rejects with its stderr if it exits first. */
function start(name: string, env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', main(name)], {
    env: { ...process.env, LOG_LEVEL: 'info', PORT: '0', ...SECRETS, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    return exited;
  };
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as LogLine;
      lines.push(entry);
      if (entry.msg === `${name} subgraph ready`) resolve({ url: entry.url!.replace(/\/graphql$/, ''), lines, stop });
    });
    void exited.then((code) => reject(new Error(`${name} exited with code ${code}: ${stderr}`)));
  });
}

describe('one skeleton for the three subgraphs', () => {
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

  it('starts each subgraph the same way: migrated, seeded once by replicas starting together, health and readiness, unsigned calls refused, drained on SIGTERM', async () => {
    const env = { DATABASE_URL: database.url, SEED_USERS: '5', SEED_MEMES: '20' };
    // Two users replicas and two memes replicas start together on an empty database.
    const services = await Promise.all([
      start('users', env),
      start('users', env),
      start('memes', env),
      start('memes', env),
      start('ai', env),
    ]);
    try {
      for (const service of services) {
        expect((await fetch(`${service.url}/health`)).status).toBe(200);
        expect((await fetch(`${service.url}/ready`)).status).toBe(200);
        const unsigned = await fetch(`${service.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: '{ __typename }' }),
        });
        expect(unsigned.status).toBe(401);
      }
      const { rows } = await db.query<{ users: string; memes: string; generations: string }>(
        `SELECT (SELECT count(*) FROM users.users) AS users, (SELECT count(*) FROM memes.memes) AS memes,
                (SELECT count(*) FROM ai.generations) AS generations`,
      );
      expect(rows).toEqual([{ users: '5', memes: '20', generations: '0' }]);
      // One replica of each seeded; the other found the data there.
      const seededBy = (replicas: number[]) =>
        replicas.filter((i) => services[i]!.lines.some((line) => line.msg === 'seeded'));
      expect(seededBy([0, 1])).toHaveLength(1);
      expect(seededBy([2, 3])).toHaveLength(1);
    } finally {
      const codes = await Promise.all(services.map((s) => s.stop()));
      expect(codes).toEqual([0, 0, 0, 0, 0]);
    }
  });

  it('refuses a bad setting at start, naming it', async () => {
    await Promise.all([
      expect(start('memes', { DATABASE_URL: database.url, LOG_LEVEL: 'loud' })).rejects.toThrow(
        /LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent/,
      ),
      expect(start('users', { DATABASE_URL: database.url, PORT: 'eighty' })).rejects.toThrow(/PORT:/),
    ]);
  });
});
