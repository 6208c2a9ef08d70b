import type { Queryable } from '@memegraph/service-kit';
import { hashPassword } from './auth/passwords';

/** The password of every seeded user, for trying the API by hand. */
export const SEED_PASSWORD = 'memegraph-demo';

const ADJECTIVES = [
  'dank',
  'sleepy',
  'based',
  'cursed',
  'wholesome',
  'spicy',
  'feral',
  'chill',
  'smug',
  'chaotic',
  'cozy',
  'unhinged',
];
const NOUNS = [
  'doge',
  'frog',
  'cat',
  'goose',
  'raccoon',
  'otter',
  'capybara',
  'pigeon',
  'llama',
  'crab',
  'owl',
  'badger',
];

/**
 * Users with ids exactly 1..count (the memes seed relies on it), made in
 * one statement. Deterministic: the same count gives the same rows. They
 * share one password hash: hashing each would take minutes for large seeds.
 */
export async function seedUsers(db: Queryable, options: { users: number }): Promise<void> {
  if (options.users <= 0) return;
  const hash = await hashPassword(SEED_PASSWORD);
  await db.query(
    `INSERT INTO users (id, handle, display_name, password_hash, created_at)
     SELECT i,
            ($2::text[])[1 + (i * 7) % cardinality($2::text[])] || '_' || ($3::text[])[1 + (i * 11) % cardinality($3::text[])] || '_' || i,
            initcap(($2::text[])[1 + (i * 7) % cardinality($2::text[])]) || ' ' || initcap(($3::text[])[1 + (i * 11) % cardinality($3::text[])]),
            $4,
            timestamptz '2025-01-01 00:00:00+00' + make_interval(mins => i * 17)
     FROM generate_series(1, $1::int) AS i
     ON CONFLICT DO NOTHING`,
    [options.users, ADJECTIVES, NOUNS, hash],
  );
  // Every fifth seeded user pays for Memes AI, every fiftieth is an enterprise.
  await db.query(
    `INSERT INTO subscriptions (user_id, plan, status)
     SELECT i, CASE WHEN i % 50 = 0 THEN 'enterprise' ELSE 'premium' END, 'active'
     FROM generate_series(5, $1::int, 5) AS i
     ON CONFLICT DO NOTHING`,
    [options.users],
  );
  await db.query(`SELECT setval(pg_get_serial_sequence('users', 'id'), GREATEST((SELECT max(id) FROM users), 1))`);
}
