import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedis } from '@memegraph/service-kit';
import { openSharedState, type SharedState } from '../state/shared';
import { SharedFlights } from './sharedFlight';
import { SingleFlight } from './singleFlight';
import type { CachedResponse } from './store';

/** Two routers' flights on the real Redis (a key prefix of this run's own, removed at the end), and one without Redis. */
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `memegraph-unit:${randomBytes(4).toString('hex')}:`;

const opened: SharedState[] = [];
async function router(
  stored: Map<string, CachedResponse>,
  onRedis = true,
  state = onRedis ? openSharedState({ url: REDIS_URL }, PREFIX) : openSharedState(undefined, PREFIX),
): Promise<SharedFlights> {
  opened.push(state);
  if (onRedis) expect(await state.connected(5_000)).toBe(true);
  return new SharedFlights(state, { lockMs: 60_000, checkMs: 50, read: async (key) => stored.get(key) });
}

afterAll(async () => {
  await Promise.all(opened.map((state) => state.close()));
  const redis = createRedis(REDIS_URL, 'sharedFlight.test');
  await new Promise((resolve) => redis.once('ready', resolve));
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

/** `router` waiting on the execution of `key` another holds: still waiting a round trip to Redis later. */
async function waiting(router: SharedFlights, key: string): Promise<{ waited: Promise<CachedResponse | undefined> }> {
  let answered = false;
  const waited = router.wait(key).then((found) => {
    answered = true;
    return found;
  });
  // Not answered while the execution runs (its lock held, nothing stored).
  await router.claim(key);
  expect(answered).toBe(false);
  return { waited };
}

const entry = (data: string): CachedResponse => ({ data, storedAt: Date.now(), maxAge: 60, tags: [] });

describe('single flight across routers', () => {
  it('lets one router execute a key; another waits for it and gets what it stored', async () => {
    const stored = new Map<string, CachedResponse>();
    const [a, b] = [await router(stored), await router(stored)];
    const claim = await a.claim('k1');
    expect(claim).toBeDefined();
    expect(await b.claim('k1')).toBeUndefined();
    const { waited } = await waiting(b, 'k1');
    stored.set('k1', entry('{"a":1}'));
    await claim!.release();
    expect((await waited)?.data).toBe('{"a":1}');
    // Released: the next miss of the key may execute.
    const next = await b.claim('k1');
    expect(next).toBeDefined();
    await next!.release();
  });

  it('tells a router that waits after the execution ended: what it stored, or nothing once the lock is gone', async () => {
    const stored = new Map<string, CachedResponse>();
    const [a, b] = [await router(stored), await router(stored)];
    const first = await a.claim('k2');
    stored.set('k2', entry('"x"'));
    await first!.release();
    expect((await b.wait('k2'))?.data).toBe('"x"');
    const second = await a.claim('k3');
    await second!.release();
    expect(await b.wait('k3')).toBeUndefined();
  });

  it('stops a router waiting when its connection to Redis closes: the end of the execution may never reach it', async () => {
    const stored = new Map<string, CachedResponse>();
    const onB = openSharedState({ url: REDIS_URL }, PREFIX);
    const [a, b] = [await router(stored), await router(stored, true, onB)];
    const claim = await a.claim('k5');
    const { waited } = await waiting(b, 'k5');
    // As when Redis froze past the command timeout: the lock (60 s here) is still held, and no release will come.
    onB.redis!.disconnect();
    expect(await waited).toBeUndefined();
    await claim!.release();
  });

  it('stops a router waiting once the lock is gone, though the message of the execution’s end never came', async () => {
    const stored = new Map<string, CachedResponse>();
    const [a, b] = [await router(stored), await router(stored)];
    await a.claim('k6');
    const { waited } = await waiting(b, 'k6');
    // Ended without a word reaching b (as when b's subscription was away): the lock is gone, the answer stored.
    stored.set('k6', entry('"late"'));
    const redis = createRedis(REDIS_URL, 'sharedFlight.test');
    await new Promise((resolve) => redis.once('ready', resolve));
    expect(await redis.del(`${PREFIX}flight:k6`)).toBe(1);
    redis.disconnect();
    expect((await waited)?.data).toBe('"late"');
  });

  it('hands nothing to those waiting when the execution stored nothing: they execute on their own', async () => {
    const stored = new Map<string, CachedResponse>();
    const [a, b] = [await router(stored), await router(stored)];
    const claim = await a.claim('k4');
    const waited = b.wait('k4');
    await claim!.release();
    expect(await waited).toBeUndefined();
  });

  it('is asked only for keys that were cached before: a key never stored takes no lock', async () => {
    const stored = new Map<string, CachedResponse>();
    const [a, b] = [await router(stored), await router(stored)];
    const onA = new SingleFlight({ across: a });
    const onB = new SingleFlight({ across: b });
    // Never stored: each router leads its own miss, nothing is asked of Redis.
    expect((await onA.join('cold')).role).toBe('lead');
    expect((await onB.join('cold')).role).toBe('lead');
    // Found expired: the second router's miss follows the first router's execution.
    const lead = await onA.join('hot', { acrossRouters: true });
    expect(lead.role).toBe('lead');
    const follow = onB.join('hot', { acrossRouters: true });
    stored.set('hot', entry('"fresh"'));
    if (lead.role === 'lead') lead.settle(stored.get('hot'));
    const flight = await follow;
    expect(flight.role).toBe('follow');
    expect(flight.role === 'follow' && (await flight.answer)?.data).toBe('"fresh"');
  });

  it('without Redis, every router executes its own misses', async () => {
    const alone = await router(new Map(), false);
    expect(await alone.claim('k5')).toBeDefined();
    expect(await alone.claim('k5')).toBeDefined();
    expect(await alone.wait('k5')).toBeUndefined();
  });
});
