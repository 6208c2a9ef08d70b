import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedis } from '@memegraph/service-kit';
import { openSharedState, type SharedState } from '../state/shared';
import { storedParts } from '../state/taggedEntries';
import { ResponseCache, type CachedResponse } from './store';
import { dropKeys } from '../../../test/support/redis';

/** The response cache's entries through the real Redis (a key prefix of this run's own, removed at the end). */
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const RUN = `memegraph-unit:${randomBytes(4).toString('hex')}:`;

const opened: SharedState[] = [];
async function open(): Promise<SharedState> {
  const state = openSharedState({ url: REDIS_URL }, RUN);
  opened.push(state);
  expect(await state.connected(5_000)).toBe(true);
  return state;
}

afterAll(async () => {
  await Promise.all(opened.map((state) => state.close()));
  const redis = createRedis(REDIS_URL, 'store.test');
  await new Promise((resolve) => redis.once('ready', resolve));
  await dropKeys(redis, RUN);
  redis.disconnect();
});

describe('ResponseCache on Redis', () => {
  it("another router reads an entry as it was stored: its data's bytes, its age, maxAge and tags", async () => {
    const options = { localTtlMs: 5_000, staleIfErrorSeconds: 60 };
    const writer = new ResponseCache(await open(), options);
    const reader = new ResponseCache(await open(), options);
    // Data with what JSON escapes inside a string: quotes, backslashes, a newline, non-ASCII.
    const data = JSON.stringify({ meme: { title: 'a "quoted"\\ line\nand ☃', score: 3 } });
    const entry: CachedResponse = { data, storedAt: Date.now() - 2_000, maxAge: 60, tags: ['Meme:1', 'Meme:list'] };
    await writer.set('k', entry);
    const read = await reader.get('k');
    expect(read).toEqual(entry);
    expect(read!.data).toBe(data);
    // In Redis it is JSON, its data the JSON it is (not a string of it); an entry of the earlier form reads as before.
    const redis = createRedis(REDIS_URL, 'store.test');
    await new Promise((resolve) => redis.once('ready', resolve));
    const [key] = await redis.keys(`${RUN}response-v2:*`);
    const raw = (await redis.get(key!))!;
    const { head, value } = storedParts(raw);
    expect(JSON.parse(value)).toEqual({
      storedAt: entry.storedAt,
      maxAge: 60,
      tags: entry.tags,
      json: JSON.parse(data),
    });
    await redis.set(key!, head + JSON.stringify({ ...entry, maxAge: 90 }), 'KEEPTTL');
    expect(await new ResponseCache(await open(), options).get('k')).toEqual({ ...entry, maxAge: 90 });
    await redis.set(key!, raw, 'KEEPTTL');
    redis.disconnect();
    // Purged by one of its tags, it is gone for both (the reader's kept copy included), or kept stale only.
    await writer.purge(['Meme:1'], { keepStale: true });
    expect(await new ResponseCache(await open(), options).get('k')).toEqual({ ...entry, staleOnly: true });
  });
});
