import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis } from '@memegraph/service-kit';
import { dropKeys, keysOf } from '../../../test/support/redis';
import { TaggedEntries } from './taggedEntries';

/** On the real Redis, under a key prefix of this run's own, removed at the end. */
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `memegraph-unit:${randomBytes(4).toString('hex')}:`;
const redis = createRedis(REDIS_URL, 'taggedEntries.test');

beforeAll(async () => {
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
});

afterAll(async () => {
  await dropKeys(redis, PREFIX);
  redis.disconnect();
});

/** Every key of the run under `pattern` (after the prefix). */
const keysLike = (pattern: string) => keysOf(redis, `${PREFIX}${pattern}`);

/** Entries on their own names (a test's own), on a clock the test moves. */
function entriesOnClock(name: string, options: { maxEntryTtlMs?: number } = {}) {
  const clock = { ms: Date.UTC(2026, 11, 7, 12) };
  const entries = new TaggedEntries(
    redis,
    { prefix: PREFIX, entry: `${name}-e`, tag: `${name}-t` },
    { now: () => clock.ms, ...options },
  );
  /** The entry's value when it is current; null for none, or for a stale copy. */
  const current = async (key: string) => {
    const found = await entries.get(key);
    return found && !found.staleOnly ? found.value : null;
  };
  return { entries, clock, current };
}

describe('tagged entries on Redis', () => {
  it('a purge ends every entry written before it under its tags, and none written after', async () => {
    const { entries, current } = entriesOnClock('ends');
    await entries.set('a', 'A', 60_000, ['T1', 'T2']);
    await entries.set('b', 'B', 60_000, ['T1']);
    await entries.set('c', 'C', 60_000, ['T3']);

    await entries.purge(['T2']);
    expect(await current('a')).toBeNull();
    expect(await entries.get('a')).toBeNull();
    expect(await current('b')).toBe('B');
    expect(await current('c')).toBe('C');

    // Written after the purge: current, until the next purge of one of its tags.
    await entries.set('a', 'A2', 60_000, ['T1', 'T2']);
    expect(await current('a')).toBe('A2');
    await entries.purge(['T1', 'T4']);
    expect(await current('a')).toBeNull();
    expect(await current('b')).toBeNull();
    expect(await current('c')).toBe('C');
  });

  it('keeps what a purge asks to keep as stale copies for the window its first purge opened, until a purge that keeps nothing', async () => {
    const { entries, clock, current } = entriesOnClock('stale');
    await entries.set('a', 'A', 60_000, ['T1', 'T2']);
    await entries.set('b', 'B', 60_000, ['T1']);

    await entries.purge(['T1'], { keepStaleMs: 30_000 });
    expect(await current('a')).toBeNull();
    expect(await entries.get('a')).toEqual({ value: 'A', staleOnly: true });

    // Purged again within the window: the copies are kept, but no longer than the first purge said.
    clock.ms += 20_000;
    await entries.purge(['T1'], { keepStaleMs: 30_000 });
    expect(await entries.get('b')).toEqual({ value: 'B', staleOnly: true });
    clock.ms += 10_000;
    expect(await entries.get('b')).toBeNull();

    // Written after the window ended and purged keeping copies: a window of its own.
    await entries.set('b', 'B2', 60_000, ['T1']);
    await entries.purge(['T1'], { keepStaleMs: 30_000 });
    expect(await entries.get('b')).toEqual({ value: 'B2', staleOnly: true });

    // A purge that keeps nothing, of any of its tags, ends a copy at once.
    await entries.set('a', 'A2', 60_000, ['T1', 'T2']);
    await entries.purge(['T1'], { keepStaleMs: 30_000 });
    expect(await entries.get('a')).toEqual({ value: 'A2', staleOnly: true });
    await entries.purge(['T2']);
    expect(await entries.get('a')).toBeNull();
    expect(await entries.get('b')).toEqual({ value: 'B2', staleOnly: true });
    await entries.purge(['T1']);
    expect(await entries.get('b')).toBeNull();
  });

  it('keeps no set of entries per tag: a tag under a thousand entries is one key, and its purge writes only that key', async () => {
    const { entries, current } = entriesOnClock('sets', { maxEntryTtlMs: 120_000 });
    await Promise.all(
      Array.from({ length: 1_000 }, (_, i) => entries.set(`k${i}`, `V${i}`, 60_000, ['Hot', `Own:${i}`])),
    );
    expect(await keysLike('sets-t-version:*')).toEqual([]);

    await entries.purge(['Hot']);
    // One version key (on one Redis, for every shard), living as long as an entry may; no key per entry.
    const versions = await keysLike('sets-t-version:*');
    expect(versions).toEqual([`${PREFIX}sets-t-version:all:Hot`]);
    for (const key of versions) expect(await redis.pttl(key)).toBeGreaterThan(110_000);
    expect(await Promise.all([0, 500, 999].map((i) => current(`k${i}`)))).toEqual([null, null, null]);

    // Writes are held to the longest an entry may live, so no entry outlives its tags' versions.
    await entries.set('long', 'L', 600_000, ['Hot']);
    const [entry] = await keysLike('sets-e-v2:*:long');
    expect(await redis.pttl(entry!)).toBeLessThanOrEqual(120_000);
  });

  it('reads an entry as current when a tag’s version key is gone: no purge of it since the entry was written', async () => {
    const { entries, current } = entriesOnClock('expired');
    await entries.purge(['T']);
    await entries.set('a', 'A', 60_000, ['T']);
    // The version key expires (after the longest an entry lives, here at once): no purge came since the write.
    for (const key of await keysLike('expired-t-version:*')) await redis.del(key);
    expect(await current('a')).toBe('A');
    // A new purge after the key expired still ends it: versions come from a counter that never starts over.
    await entries.purge(['T']);
    expect(await current('a')).toBeNull();
  });

  it('reads nothing from an entry it cannot read, and keeps none whose tag it could not read back', async () => {
    const { entries, current } = entriesOnClock('odd');
    const [entryStart] = (await (entries.set('probe', 'P', 60_000, []), keysLike('odd-e-v2:*:probe'))) as [string];
    expect(await current('probe')).toBe('P');
    // An entry written by a router of the format before versions: its bare value.
    await redis.set(entryStart.replace(/probe$/, 'old'), '{"data":{}}', 'PX', 60_000);
    expect(await entries.get('old')).toBeNull();

    await entries.set('two-lines', 'X', 60_000, ['Meme:1\nUser:7']);
    expect(await current('two-lines')).toBeNull();
  });
});
