import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedis, type Viewer } from '@memegraph/service-kit';
import { ResponseCache, type CachedResponse } from '../cache/store';
import { ViewerCache } from '../viewer/cache';
import { openSharedState, type SharedState } from './shared';
import { ONE_TAG, TaggedCache, type TaggedCacheOptions } from './taggedCache';
import { dropKeys } from '../../../test/support/redis';

/**
 * Parity: each store runs through the same sequences in memory (one router
 * alone) and on the real Redis (a key prefix of this run's own, removed at
 * the end), and answers the same. Clocks are injected: the in-process layer
 * expires entries on them.
 */
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const RUN = `memegraph-unit:${randomBytes(4).toString('hex')}:`;

const opened: SharedState[] = [];
let stores = 0;
/** A shared state of its own (own prefix), in memory or on Redis. */
async function open(onRedis: boolean): Promise<SharedState> {
  const prefix = `${RUN}${stores++}:`;
  const state = onRedis ? openSharedState({ url: REDIS_URL }, prefix) : openSharedState(undefined, prefix);
  opened.push(state);
  if (onRedis) expect(await state.connected(5_000)).toBe(true);
  return state;
}

afterAll(async () => {
  await Promise.all(opened.map((state) => state.close()));
  const redis = createRedis(REDIS_URL, 'taggedCache.test');
  await new Promise((resolve) => redis.once('ready', resolve));
  await dropKeys(redis, RUN);
  redis.disconnect();
});

class Clock {
  constructor(public ms = 1_700_000_000_000) {}
  readonly now = () => this.ms;
}

interface Page {
  id: string;
  tags: string[];
  body: string;
}

function pages(state: SharedState, clock: Clock, overrides: Partial<TaggedCacheOptions<Page>> = {}) {
  const lookups: string[] = [];
  const cache = new TaggedCache<Page>(state, {
    component: 'test cache',
    names: { entry: 'page', tag: 'page-tag', channel: 'page-purge' },
    tagsOf: (page) => page.tags,
    sharedTtlMs: () => 60_000,
    localTtlMs: () => 1_000,
    maxLocalBytes: 1024 * 1024,
    onLookup: (layer, found) => lookups.push(`${layer}:${found ? (found.staleOnly ? 'stale' : 'hit') : 'miss'}`),
    now: clock.now,
    ...overrides,
  });
  return { cache, lookups };
}

const page = (id: string, ...tags: string[]): Page => ({ id, tags, body: `page ${id}` });

for (const onRedis of [false, true]) {
  describe(`TaggedCache ${onRedis ? 'on Redis' : 'in memory'}`, () => {
    it('removes by tag what is listed under it, and nothing else', async () => {
      const { cache } = pages(await open(onRedis), new Clock());
      await cache.set('a', page('a', 'Meme:1', 'Meme:list'));
      await cache.set('b', page('b', 'Meme:list'));
      await cache.set('c', page('c', 'User:7'));
      expect((await cache.get('a'))?.value).toEqual(page('a', 'Meme:1', 'Meme:list'));
      const before = cache.generation;
      await cache.purge(['Meme:list']);
      expect(cache.generation).toBe(before + 1);
      expect(await cache.get('a')).toBeUndefined();
      expect(await cache.get('b')).toBeUndefined();
      expect((await cache.get('c'))?.value.id).toBe('c');
      // Written after the purge: listed again, so the next purge finds it.
      await cache.set('a', page('a', 'Meme:1'));
      await cache.purge(['Meme:1']);
      expect(await cache.get('a')).toBeUndefined();
    });

    it('keeps stale-only copies when a purge asks, until a purge that keeps nothing', async () => {
      const { cache } = pages(await open(onRedis), new Clock());
      await cache.set('a', page('a', 'Meme:1', 'Meme:2'));
      await cache.purge(['Meme:1'], { keepStaleMs: 30_000 });
      expect(await cache.get('a')).toEqual({ value: page('a', 'Meme:1', 'Meme:2'), staleOnly: true });
      // Purged again (by its other tag) keeping copies: still the one copy.
      await cache.purge(['Meme:2'], { keepStaleMs: 30_000 });
      expect((await cache.get('a'))?.staleOnly).toBe(true);
      await cache.purge(['Meme:2']);
      expect(await cache.get('a')).toBeUndefined();
    });

    it('keeps a value in process for its local lifetime on the injected clock, then asks Redis if there is one', async () => {
      const clock = new Clock();
      const { cache, lookups } = pages(await open(onRedis), clock);
      await cache.set('a', page('a', 'Meme:1'));
      expect((await cache.get('a'))?.value.id).toBe('a');
      clock.ms += 1_001;
      const after = await cache.get('a');
      if (onRedis) expect(after?.value.id).toBe('a');
      else expect(after).toBeUndefined();
      expect(lookups).toEqual(['local:hit', onRedis ? 'redis:hit' : 'local:miss']);
    });

    it('answers from this process alone with getLocal, told as get tells a value found here', async () => {
      const clock = new Clock();
      const { cache, lookups } = pages(await open(onRedis), clock);
      await cache.set('a', page('a', 'Meme:1'));
      expect(cache.getLocal('a')).toEqual({ value: page('a', 'Meme:1'), staleOnly: false });
      clock.ms += 1_001;
      // Gone from this process: undefined, and no lookup told (get, asked next, tells it).
      expect(cache.getLocal('a')).toBeUndefined();
      expect(lookups).toEqual(['local:hit']);
      if (onRedis) {
        // Read back from Redis by get, it is held here again.
        expect((await cache.get('a'))?.value.id).toBe('a');
        expect(cache.getLocal('a')?.value.id).toBe('a');
        expect(lookups).toEqual(['local:hit', 'redis:hit', 'local:hit']);
      }
    });

    it('with keepHere false, keeps what it stores in process only once read back from Redis', async () => {
      const clock = new Clock();
      const { cache, lookups } = pages(await open(onRedis), clock);
      await cache.set('a', page('a', 'Meme:1'), { keepHere: false });
      if (onRedis) {
        expect(cache.getLocal('a')).toBeUndefined();
        expect((await cache.get('a'))?.value.id).toBe('a');
        expect(cache.getLocal('a')?.value.id).toBe('a');
        expect(lookups).toEqual(['redis:hit', 'local:hit']);
        // Stored again: the older copy held here goes, and the new one is read back.
        await cache.set('a', { ...page('a', 'Meme:1'), body: 'new' }, { keepHere: false });
        expect(cache.getLocal('a')).toBeUndefined();
        expect((await cache.get('a'))?.value.body).toBe('new');
        // Still listed under its tags here and in Redis: a purge removes it from both.
        await cache.purge(['Meme:1']);
        expect(cache.getLocal('a')).toBeUndefined();
        expect(await cache.get('a')).toBeUndefined();
      } else {
        // The only layer: kept as stored.
        expect(cache.getLocal('a')?.value.id).toBe('a');
      }
    });

    it('holds at most its byte budget in process, dropping the least recently used', async () => {
      const { cache } = pages(await open(onRedis), new Clock(), { maxLocalBytes: 500 });
      const big = (id: string): Page => ({ id, tags: [`Meme:${id}`], body: id.repeat(60) });
      for (const id of ['a', 'b', 'c']) await cache.set(id, big(id));
      expect(cache.localStats().bytes).toBeLessThanOrEqual(500);
      expect(cache.localStats().entries).toBe(2);
      // The evicted one is gone here; on Redis it is still there for every router.
      expect((await cache.get('a'))?.value.id).toBe(onRedis ? 'a' : undefined);
      // Eviction took it out of the tag index too: nothing is left listed for it.
      await cache.purge(['Meme:b', 'Meme:c']);
      expect(cache.localStats()).toEqual({
        entries: onRedis ? 1 : 0,
        bytes: expect.any(Number) as number,
        tags: onRedis ? 1 : 0,
      });
    });
  });

  describe(`ViewerCache ${onRedis ? 'on Redis' : 'in memory'}`, () => {
    const viewer = (userId: string): Extract<Viewer, { kind: 'user' }> => ({
      kind: 'user',
      userId,
      tier: 'free',
      scopes: ['memes:read'],
    });
    const viewers = async (clock = new Clock()) =>
      new ViewerCache(await open(onRedis), {
        localTtlMs: 1_000,
        sharedTtlMs: 60_000,
        refusedTtlMs: 60_000,
        now: clock.now,
      });

    it('forgets every credential of a user at once, and no lookup that overlapped the change is kept', async () => {
      const cache = await viewers();
      await cache.set('key:1', viewer('u1'), cache.epoch());
      await cache.set('session:1', viewer('u1'), cache.epoch());
      await cache.set('key:2', viewer('u2'), cache.epoch());
      const epoch = cache.epoch();
      await cache.invalidateUser('u1');
      expect(await cache.get('key:1')).toBeUndefined();
      expect(await cache.get('session:1')).toBeUndefined();
      expect((await cache.get('key:2'))?.userId).toBe('u2');
      // A lookup that started before the change: not cached.
      await cache.set('key:1', viewer('u1'), epoch);
      expect(await cache.get('key:1')).toBeUndefined();
      await cache.set('key:1', viewer('u1'), cache.epoch());
      expect((await cache.get('key:1'))?.userId).toBe('u1');
    });

    it('remembers a refused credential', async () => {
      const cache = await viewers();
      expect(await cache.refusal('key:bad')).toBeUndefined();
      await cache.rememberRefusal('key:bad', 'revoked');
      expect(await cache.refusal('key:bad')).toBe('revoked');
    });
  });

  describe(`ResponseCache ${onRedis ? 'on Redis' : 'in memory'}`, () => {
    /** A response cache of its own on `clock`, and its lookups as told (`layer:result`). */
    const responses = async (clock: Clock) => {
      const lookups: string[] = [];
      const cache = new ResponseCache(await open(onRedis), {
        localTtlMs: 5_000,
        staleIfErrorSeconds: 300,
        now: clock.now,
        onLookup: (layer, result) => lookups.push(`${layer}:${result}`),
      });
      return { cache, lookups };
    };

    it('answers stale-only after a purge that keeps copies, and a fresh entry as a hit', async () => {
      const clock = new Clock();
      const { cache, lookups } = await responses(clock);
      // What `data` holds is the pipeline's business: the cache stores it as it is.
      const entry: CachedResponse = {
        data: {} as CachedResponse['data'],
        storedAt: clock.ms,
        maxAge: 30,
        tags: ['Meme:list'],
      };
      await cache.set('q', entry);
      expect(await cache.get('q')).toEqual(entry);
      await cache.purge(['Meme:list'], { keepStale: true });
      expect(await cache.get('q')).toEqual({ ...entry, staleOnly: true });
      await cache.purge(['Meme:list'], { keepStale: false });
      expect(await cache.get('q')).toBeUndefined();
      expect(lookups.map((lookup) => lookup.split(':')[1])).toEqual(['hit', 'stale', 'miss']);
    });

    it('keeps in process at once only the answer of a key it stored before', async () => {
      const clock = new Clock();
      const { cache, lookups } = await responses(clock);
      const entry = (tag: string): CachedResponse => ({
        data: '{}',
        storedAt: clock.ms,
        maxAge: 30,
        tags: [tag],
      });
      // A key's first answer: from Redis once, then from this process. Without Redis, from this process at once.
      await cache.set('q', entry('Meme:1'));
      await cache.get('q');
      await cache.get('q');
      // Stored again after a purge, as a hot key is: from this process at once. (Listed under another tag, as
      // the purge's own message, heard later, drops what this process holds under the one purged.)
      await cache.purge(['Meme:1'], { keepStale: false });
      await cache.set('q', entry('Meme:2'));
      await cache.get('q');
      expect(lookups).toEqual(
        onRedis ? ['redis:hit', 'local:hit', 'local:hit'] : ['local:hit', 'local:hit', 'local:hit'],
      );
    });
  });
}

/** Two routers' caches of pages on one Redis prefix of their own, on one clock. */
async function twoRouters(name: string, overrides: Partial<TaggedCacheOptions<Page>> = {}) {
  const prefix = `${RUN}${name}:`;
  const [a, b] = [openSharedState({ url: REDIS_URL }, prefix), openSharedState({ url: REDIS_URL }, prefix)];
  opened.push(a, b);
  expect(await a.connected(5_000)).toBe(true);
  expect(await b.connected(5_000)).toBe(true);
  const clock = new Clock();
  return { a, one: pages(a, clock, overrides), other: pages(b, clock, overrides) };
}

/** Until `cache` has seen `count` purges after `generation`: a message arrives when it arrives, so this waits for it, not for a time. */
function purgesSeen(cache: TaggedCache<Page>, generation: number, count: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const poll = () => (cache.generation >= generation + count ? resolve() : setImmediate(poll));
    poll();
  });
}

describe('TaggedCache on Redis, two routers', () => {
  it("a purge on one router drops the other's in-process copy", async () => {
    const { one, other } = await twoRouters('shared');
    await one.cache.set('a', page('a', 'Meme:1'));
    expect((await other.cache.get('a'))?.value.id).toBe('a'); // from Redis, now kept in process
    const generation = other.cache.generation;
    await one.cache.purge(['Meme:1']);
    await purgesSeen(other.cache, generation, 1);
    expect(await other.cache.get('a')).toBeUndefined();
    expect(other.lookups).toEqual(['redis:hit', 'redis:miss']);
  });

  it('sends the purges Redis missed before it next reads Redis, and tells every router', async () => {
    // One tag a message, as the viewer cache's purges are: several missed purges are sent as several messages.
    const { a, one, other } = await twoRouters('blink', { purgeMessage: ONE_TAG });
    await one.cache.set('a', page('a', 'Meme:1'));
    await one.cache.set('b', page('b', 'Meme:2'));
    await one.cache.set('c', page('c', 'Meme:3'));
    for (const key of ['a', 'b', 'c']) expect((await other.cache.get(key))?.value.id).toBe(key);

    // Redis away from the first router while it purges: nothing reaches Redis or the other router.
    a.redis!.disconnect();
    await one.cache.purge(['Meme:1']);
    await one.cache.purge(['Meme:2'], { keepStaleMs: 30_000 });
    expect(one.cache.unsentPurges).toBe(2);
    expect(other.cache.getLocal('a')?.value.id).toBe('a');

    if (a.redis!.status !== 'end') await new Promise((resolve) => a.redis!.once('end', resolve));
    await a.redis!.connect();
    const generation = other.cache.generation;
    // Its next read of Redis sends them first: what they removed is not read back.
    expect(await one.cache.get('a')).toBeUndefined();
    expect(await one.cache.get('b')).toEqual({ value: page('b', 'Meme:2'), staleOnly: true });
    expect((await one.cache.get('c'))?.value.id).toBe('c');
    expect(one.cache.unsentPurges).toBe(0);
    // The other router hears both purges and drops its copies.
    await purgesSeen(other.cache, generation, 2);
    expect(other.cache.getLocal('a')).toBeUndefined();
    expect(other.cache.getLocal('b')).toBeUndefined();
    expect(other.cache.getLocal('c')?.value.id).toBe('c');
    expect(await other.cache.get('a')).toBeUndefined();
  });
});
