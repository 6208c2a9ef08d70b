import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, openDb, type Db } from '@memegraph/service-kit';
import { MIGRATIONS_DIR } from './server';
import { catalogTemplates, seedMemes } from './seed';

// Embedded PGlite: the same SQL the PostgreSQL end-to-end tests run, on the other back end.
const NOW = new Date('2025-03-01T00:00:00Z');
const dbs: Db[] = [];

async function seeded(memes: number, users: number): Promise<Db> {
  const db = await openDb({ schema: 'memes' });
  dbs.push(db);
  await migrate(db, MIGRATIONS_DIR);
  await seedMemes(db, { users, memes, now: NOW });
  return db;
}

const allMemes = (db: Db) =>
  db.query(
    'SELECT id, title, top_text, bottom_text, template_id, tags, author_id, score, origin, created_at FROM memes ORDER BY id',
  );

describe('seedMemes on PGlite', () => {
  let first: Db;
  let second: Db;
  // Two embedded databases made and seeded at once: about 3 s alone, several times that on a busy machine.
  beforeAll(async () => {
    [first, second] = await Promise.all([seeded(400, 15), seeded(400, 15)]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(dbs.map((db) => db.close()));
  });

  it('makes the same rows for the same counts', async () => {
    const rows = await allMemes(first);
    expect(rows).toHaveLength(400);
    expect(await allMemes(second)).toEqual(rows);
    expect(await second.query('SELECT * FROM votes ORDER BY meme_id, user_id')).toEqual(
      await first.query('SELECT * FROM votes ORDER BY meme_id, user_id'),
    );
  });

  it('keeps every score equal to the sum of its votes, with authors among the users', async () => {
    const [check] = await first.query<{ wrong: unknown; outside: unknown; voted: unknown }>(
      `SELECT count(*) FILTER (WHERE m.score <> COALESCE(v.total, 0)) AS wrong,
              count(*) FILTER (WHERE m.author_id NOT BETWEEN 1 AND 15) AS outside,
              count(*) FILTER (WHERE v.total IS NOT NULL) AS voted
         FROM memes m LEFT JOIN (SELECT meme_id, sum(value) AS total FROM votes GROUP BY meme_id) v ON v.meme_id = m.id`,
    );
    expect(Number(check!.wrong)).toBe(0);
    expect(Number(check!.outside)).toBe(0);
    expect(Number(check!.voted)).toBeGreaterThan(100);
  });

  it('spreads creation times over the year before `now`, increasing with id', async () => {
    const rows = await first.query<{ created_at: Date }>('SELECT created_at FROM memes ORDER BY id');
    const times = rows.map((r) => new Date(r.created_at).getTime());
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(times.at(-1)).toBe(NOW.getTime());
    expect(times[0]).toBeGreaterThan(NOW.getTime() - 366 * 86_400_000);
  });

  it('includes some AI memes and uses all twelve templates', async () => {
    const [counts] = await first.query<{ ai: unknown; templates: unknown }>(
      `SELECT count(*) FILTER (WHERE origin = 'AI') AS ai, count(DISTINCT template_id) AS templates FROM memes`,
    );
    expect(Number(counts!.ai)).toBe(20);
    expect(Number(counts!.templates)).toBe(12);
  });

  it('leaves the sequences after the seeded ids', async () => {
    const [meme] = await first.query<{ id: unknown }>(
      `INSERT INTO memes (title, template_id, author_id) VALUES ('after seeding', 1, 1) RETURNING id`,
    );
    expect(String(meme!.id)).toBe('401');
  });
});

describe('catalogTemplates', () => {
  it('makes distinct names and art beyond the built-in twelve', () => {
    const templates = catalogTemplates(30);
    expect(new Set(templates.map((t) => t.name)).size).toBe(30);
    expect(new Set(templates.map((t) => JSON.stringify(t.art))).size).toBe(30);
  });
});
