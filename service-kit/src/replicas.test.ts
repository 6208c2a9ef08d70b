import { describe, expect, it } from 'vitest';
import { isReadOnly, parseLsn, readYourWritesTtlMs, replicasOf } from './replicas';

describe('which statements a replica may answer', () => {
  it('reads that lock and change nothing', () => {
    expect(isReadOnly('SELECT id FROM memes WHERE id = $1')).toBe(true);
    expect(isReadOnly('  with top AS (SELECT id FROM memes) SELECT * FROM top')).toBe(true);
    expect(isReadOnly('SELECT updated_at, deleted FROM memes')).toBe(true);
  });

  it('not writes, locks, sequences or advisory locks, even inside a SELECT or a WITH', () => {
    for (const text of [
      'INSERT INTO votes (meme_id) VALUES ($1)',
      'UPDATE memes SET score = score + 1',
      'WITH expired AS (DELETE FROM sessions WHERE expires_at < now()) INSERT INTO sessions (id) VALUES ($1)',
      'SELECT id FROM users WHERE id = $1 FOR UPDATE',
      'SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE',
      'SELECT id FROM users FOR SHARE',
      "SELECT nextval('memes_id_seq')",
      'SELECT pg_advisory_xact_lock(hashtext($1))',
      'SELECT pg_try_advisory_lock(1)',
      'VACUUM ANALYZE',
      'BEGIN',
    ])
      expect(isReadOnly(text), text).toBe(false);
  });
});

describe('WAL positions', () => {
  it('compare as numbers across the segment boundary', () => {
    expect(parseLsn('0/16B3748')).toBe(0x16b3748n);
    expect(parseLsn('1/0')).toBeGreaterThan(parseLsn('0/FFFFFFFF'));
    expect(parseLsn('A/10')).toBe((10n << 32n) + 16n);
  });

  it('are kept under a viewer longer than any replica fit to read may lag', () => {
    expect(readYourWritesTtlMs(1_000)).toBe(10_000);
    expect(readYourWritesTtlMs(5_000)).toBe(20_000);
  });
});

describe('replica settings', () => {
  const base = { REPLICA_MAX_LAG_MS: 1_000, REDIS_PREFIX: 'memegraph:' };
  it('are nothing without DATABASE_REPLICA_URLS', () => {
    expect(replicasOf({ ...base, DATABASE_URL: 'postgres://db/x' }, 'memes')).toBeUndefined();
  });

  it('need the primary and Redis, and say so by name', () => {
    const urls = ['postgres://replica/x'];
    expect(() => replicasOf({ ...base, DATABASE_REPLICA_URLS: urls, REDIS_URL: 'redis://r' }, 'memes')).toThrow(
      /DATABASE_REPLICA_URLS: needs DATABASE_URL/,
    );
    expect(() =>
      replicasOf({ ...base, DATABASE_REPLICA_URLS: urls, DATABASE_URL: 'postgres://db/x' }, 'memes'),
    ).toThrow(/DATABASE_REPLICA_URLS: needs REDIS_URL or REDIS_CLUSTER_NODES/);
  });
});
