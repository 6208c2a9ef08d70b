import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedis } from '@memegraph/service-kit';
import { dropKeys, keysOf } from '../../../test/support/redis';
import { TaggedEntries } from './taggedEntries';

/** On the real Redis, under a key prefix of this run's own, removed at the end. */
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `memegraph-unit:${randomBytes(4).toString('hex')}:`;
const redis = createRedis(REDIS_URL, 'taggedEntries.test');

afterAll(async () => {
  await dropKeys(redis, PREFIX);
  redis.disconnect();
});

/** Every key of the run under `pattern` (after the prefix). */
const keysLike = (pattern: string) => keysOf(redis, `${PREFIX}${pattern}`);

describe('tagged entries on Redis', () => {
  it('move the copies a purge keeps out of the tag’s set, so the next purge of it does not go through them again', async () => {
    await new Promise((resolve) => redis.once('ready', resolve));
    const entries = new TaggedEntries(redis, { prefix: PREFIX, entry: 'e', tag: 't', stale: 's' });
    await entries.set('a', 'A', 60_000, ['T1', 'T2']);
    await entries.set('b', 'B', 60_000, ['T1']);

    expect(await entries.purge(['T1'], { keepStaleMs: 30_000 })).toBe(2);
    expect(await entries.getWithStale('a')).toEqual({ value: 'A', staleOnly: true });
    // The tag's set is gone: its members are listed with the tag's copies now.
    expect(await keysLike('t:*:T1')).toEqual([]);
    // (a and b may be in different shards: a set of copies per shard.)
    const copySets = await keysLike('s-t:*:T1');
    const listed = (await Promise.all(copySets.map((key) => redis.smembers(key)))).flat();
    expect(listed.sort()).toEqual(['a', 'b']);
    for (const key of copySets) expect(await redis.pttl(key)).toBeGreaterThan(29_000);

    // Purged again keeping copies: nothing left to turn into a copy, the copies kept.
    expect(await entries.purge(['T1'], { keepStaleMs: 30_000 })).toBe(0);
    expect(await entries.getWithStale('b')).toEqual({ value: 'B', staleOnly: true });

    // a's copy is found by its other tag, whose set still lists it (its entry is a copy now).
    await entries.purge(['T2']);
    expect(await entries.getWithStale('a')).toBeNull();
    // b's copy is found through T1's copies, by a purge that keeps nothing.
    await entries.purge(['T1']);
    expect(await entries.getWithStale('b')).toBeNull();
    expect(await keysLike('s-t:*:T1')).toEqual([]);

    // Written again after: listed under its tags again.
    await entries.set('b', 'B2', 60_000, ['T1']);
    expect(await entries.purge(['T1'])).toBe(1);
    expect(await entries.getWithStale('b')).toBeNull();
  });

  it('keep a tag’s set as long as its longest-lived entry: a set made now gets an expiry, which is extended, never shortened', async () => {
    const entries = new TaggedEntries(redis, { prefix: PREFIX, entry: 'e', tag: 't' });
    // One key: its tag's set is in its shard, the one set under `t:*:L`.
    const setTtl = async () => {
      const [set, ...others] = await keysLike('t:*:L');
      expect(others).toEqual([]);
      return redis.pttl(set!);
    };
    await entries.set('long', 'A', 60_000, ['L']);
    expect(await setTtl()).toBeGreaterThan(50_000);
    await entries.set('long', 'B', 10_000, ['L']);
    expect(await setTtl()).toBeGreaterThan(50_000);
    await entries.set('long', 'C', 120_000, ['L']);
    expect(await setTtl()).toBeGreaterThan(110_000);
  });
});
