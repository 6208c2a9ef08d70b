import { randomBytes } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  DEFAULT_TIERS,
  createInternalClient,
  createRedis,
  type RedisClient,
  type TierLimits,
} from '@memegraph/service-kit';
import { createCostBucket } from '../cost/bucket';
import { openSharedState, type SharedState } from '../state/shared';
import { createUsageMeter } from '../usage/meter';
import { createRequestLimits, limitOutcome, type RequestLimitResult } from './requestLimits';
import { bucketKey } from './keys';
import { createWindowCounter } from './requestRate';
import { dropKeys } from '../../../test/support/redis';

/**
 * Parity: the request limits' one script on the real Redis (a key prefix of
 * this run's own, removed at the end) and the three stores asked in turn in
 * memory answer the same sequence the same. The sequence stays well inside
 * one window and one day; the bucket restores nothing measurable during it.
 */
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const RUN = `memegraph-unit:${randomBytes(4).toString('hex')}:`;

const opened: SharedState[] = [];
let stores = 0;

async function limitsOn(onRedis: boolean) {
  const prefix = `${RUN}${stores++}:`;
  const state = onRedis ? openSharedState({ url: REDIS_URL }, prefix) : openSharedState(undefined, prefix);
  opened.push(state);
  if (onRedis) expect(await state.connected(5_000)).toBe(true);
  // Usage is only counted here, never flushed: the client is never called.
  const usage = createUsageMeter(
    state,
    createInternalClient({ caller: 'test', signingSecret: 'x'.repeat(32) }),
    new URL('http://127.0.0.1:9/unused'),
  );
  const bucket = createCostBucket(state);
  return {
    check: createRequestLimits({ ...state, window: createWindowCounter(state), usage, bucket }),
    bucket,
    state,
  };
}

afterAll(async () => {
  await Promise.all(opened.map((state) => state.close()));
  const redis = createRedis(REDIS_URL, 'requestLimits.test');
  await new Promise((resolve) => redis.once('ready', resolve));
  await dropKeys(redis, RUN);
  redis.disconnect();
});

/** What a client sees of a result: counts, refusals and what the bucket holds, not when the window ends. */
const seen = (result: RequestLimitResult) => ({
  window: { count: result.window.count, allowed: result.window.allowed },
  today: result.today,
  bucket: result.bucket && { allowed: result.bucket.allowed, available: Math.floor(result.bucket.available) },
});

/** Counts the script calls `redis` sends from now on, auto-pipelined or alone. */
const scriptCalls = (redis: RedisClient) => {
  const sent = vi.spyOn(redis, 'sendCommand');
  return () => sent.mock.calls.filter(([command]) => command.name === 'evalsha').length;
};

const LIMITS = { requestsPerMinute: 5, dailyRequestQuota: 7 };
const BUCKET = { capacity: 100, restorePerSecond: 0.001 };

describe('request limits: one script on Redis, the stores in turn in memory', () => {
  it('count a window, then the day, then check the bucket, the same on both', async () => {
    const runs = await Promise.all([limitsOn(false), limitsOn(true)]);
    const answers = await Promise.all(
      runs.map(async ({ check, bucket }) => {
        const ask = (operations: number, points?: number, viewerKey = 'u:1') =>
          check({
            viewerKey,
            operations,
            window: { ms: 60_000, limit: LIMITS.requestsPerMinute },
            dailyQuota: LIMITS.dailyRequestQuota,
            bucket: points === undefined ? undefined : { ...BUCKET, points },
          }).then(seen);
        const out = [];
        out.push(await ask(1)); // window 1, day 1
        out.push(await ask(3, 40)); // window 4, day 4; the bucket holds 100
        await bucket.take(bucketKey('u:1'), 90, BUCKET);
        out.push(await ask(1, 40)); // window 5, day 5; 10 left: does not fit (nothing taken)
        out.push(await ask(1)); // the window is full: refused, nothing counted
        out.push(await ask(2, 5, 'u:2')); // another viewer: its own window, day and bucket
        out.push(await ask(5, undefined, 'u:2')); // 2 + 5 > 5: refused whole
        out.push(await ask(3, undefined, 'u:2')); // 5 in the window, 5 today
        return out;
      }),
    );
    const [memory, redis] = answers;
    expect(redis).toEqual(memory);
    expect(memory!.map((a) => [a.window.allowed, a.today?.allowed, a.bucket?.allowed])).toEqual([
      [true, true, undefined],
      [true, true, true],
      [true, true, false],
      [false, undefined, undefined],
      [true, true, true],
      [false, undefined, undefined],
      [true, true, undefined],
    ]);
    expect(memory![2]!.bucket!.available).toBe(10);
  });

  it('refuse with the daily quota once the window lets a request through that the day does not, and count it in neither', async () => {
    const runs = await Promise.all([limitsOn(false), limitsOn(true)]);
    for (const { check } of runs) {
      const ask = (operations = 4) =>
        check({
          viewerKey: 'ip:203.0.113.9',
          operations,
          window: { ms: 60_000, limit: 100 },
          dailyQuota: LIMITS.dailyRequestQuota,
        });
      const tier: TierLimits = {
        ...DEFAULT_TIERS.anonymous,
        requestsPerMinute: 100,
        dailyRequestQuota: LIMITS.dailyRequestQuota,
      };
      expect(limitOutcome(await ask(), tier, 4).refusal).toBeUndefined();
      const second = await ask();
      expect(seen(second).today).toEqual({ count: 4, allowed: false });
      const { refusal, rateHeaders } = limitOutcome(second, tier, 4);
      expect(refusal?.status).toBe(429);
      expect(refusal?.extensions).toEqual({ quota: 'daily' });
      // The day refused the second: the window gave its 4 back.
      expect(rateHeaders['x-ratelimit-remaining']).toBe('96');
      // What is left of the day is still there: 4 + 3 = 7.
      const third = await ask(3);
      expect(seen(third)).toMatchObject({ window: { count: 7, allowed: true }, today: { count: 7, allowed: true } });
    }
  });

  it('send the checks made together as one call, each answered as it would be alone, in the order made', async () => {
    const [memory, redis] = await Promise.all([limitsOn(false), limitsOn(true)]);
    const asks: Array<[viewerKey: string, operations: number, points?: number]> = [
      ['u:1', 2],
      ['u:1', 2, 40],
      ['u:1', 2], // 6 > 5: refused
      ['u:2', 1, 120], // more than the bucket holds: checked, does not fit
      ['u:1', 1], // 5: the window's last
    ];
    const ask = (check: typeof memory.check, [viewerKey, operations, points]: (typeof asks)[number]) =>
      check({
        viewerKey,
        operations,
        window: { ms: 60_000, limit: LIMITS.requestsPerMinute },
        dailyQuota: 100,
        bucket: points === undefined ? undefined : { ...BUCKET, points },
      }).then(seen);
    const alone = [];
    for (const each of asks) alone.push(await ask(memory.check, each));
    const calls = scriptCalls(redis.state.redis!);
    const together = await Promise.all(asks.map((each) => ask(redis.check, each)));
    expect(calls()).toBe(1);
    expect(together).toEqual(alone);
    expect(together.map((a) => [a.window.count, a.window.allowed, a.bucket?.allowed])).toEqual([
      [2, true, undefined],
      [4, true, true],
      [4, false, undefined],
      [1, true, false],
      [5, true, undefined],
    ]);
  });

  it('leave the same counts, expiries and bucket in Redis from one call as from the checks one call each', async () => {
    const [alone, together] = await Promise.all([limitsOn(true), limitsOn(true)]);
    // Two tiers' limits on one viewer's keys (a tier that changed), a day that refuses mid-batch, a bucket asked thrice.
    const asks: Array<[viewerKey: string, operations: number, limit: number, quota: number, points?: number]> = [
      ['u:1', 2, 5, 6, 30],
      ['u:1', 2, 5, 6],
      ['u:1', 3, 9, 6, 80], // the window admits 7 of 9, the day 7 > 6 refuses: both give nothing
      ['u:1', 1, 9, 6, 120], // 5 of 9, 5 of 6; 120 points do not fit
      ['u:2', 4, 5, 6, 10],
      ['u:1', 1, 9, 6, 50], // 6 of 9, 6 of 6
      ['u:1', 1, 5, 6], // 7 > 5: refused by the window
    ];
    const ask = (check: typeof alone.check, [viewerKey, operations, limit, quota, points]: (typeof asks)[number]) =>
      check({
        viewerKey,
        operations,
        window: { ms: 60_000, limit },
        dailyQuota: quota,
        bucket: points === undefined ? undefined : { ...BUCKET, points },
      }).then(seen);
    const one: unknown[] = [];
    for (const each of asks) one.push(await ask(alone.check, each));
    const calls = scriptCalls(together.state.redis!);
    const all = await Promise.all(asks.map((each) => ask(together.check, each)));
    expect(calls()).toBe(1);
    expect(all).toEqual(one);
    expect(all.map((a) => [a.window.count, a.window.allowed, a.today?.allowed, a.bucket?.allowed])).toEqual([
      [2, true, true, true],
      [4, true, true, undefined],
      [4, true, false, undefined],
      [5, true, true, false],
      [4, true, true, true],
      [6, true, true, true],
      [6, false, undefined, undefined],
    ]);
    const stored = async ({ state }: typeof alone) => {
      const redis = state.redis!;
      const out: Record<string, unknown> = {};
      for (const viewer of ['u:1', 'u:2']) {
        const window = `${state.prefix}rl:{${viewer}}`;
        const [quota] = await redis.keys(`${state.prefix}quota:*:{${viewer}}`);
        const cost = `${state.prefix}${bucketKey(viewer)}`;
        out[viewer] = {
          window: await redis.get(window),
          windowExpires: (await redis.pttl(window)) > 50_000,
          quota: await redis.get(quota!),
          quotaExpires: (await redis.pttl(quota!)) > 86_400_000,
          points: Math.floor(Number(await redis.hget(cost, 'points'))),
          bucketExpires: (await redis.pttl(cost)) > 0,
        };
      }
      return out;
    };
    expect(await stored(together)).toEqual(await stored(alone));
    expect(await stored(together)).toEqual({
      'u:1': { window: '6', windowExpires: true, quota: '6', quotaExpires: true, points: 100, bucketExpires: true },
      'u:2': { window: '4', windowExpires: true, quota: '4', quotaExpires: true, points: 100, bucketExpires: true },
    });
  });

  it('hold the checks made while a call is out, and send them together once its reply is in', async () => {
    // Redis's replies pass through this proxy, which holds them back while told to.
    let holding = false;
    const held: Array<() => void> = [];
    const proxy = net.createServer((client) => {
      const upstream = net.connect(
        new URL(REDIS_URL).port ? Number(new URL(REDIS_URL).port) : 6379,
        new URL(REDIS_URL).hostname,
      );
      client.pipe(upstream);
      upstream.on('data', (data) => (holding ? held.push(() => client.write(data)) : client.write(data)));
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const state = openSharedState({ url: `redis://127.0.0.1:${(proxy.address() as AddressInfo).port}` }, `${RUN}held:`);
    opened.push(state);
    expect(await state.connected(5_000)).toBe(true);
    const check = createRequestLimits({
      ...state,
      window: createWindowCounter(state),
      usage: createUsageMeter(
        state,
        createInternalClient({ caller: 'test', signingSecret: 'x'.repeat(32) }),
        new URL('http://127.0.0.1:9/unused'),
      ),
      bucket: createCostBucket(state),
    });
    const ask = (viewerKey: string) =>
      check({ viewerKey, operations: 1, window: { ms: 60_000, limit: 10 }, dailyQuota: 100 }).then(seen);
    const calls = scriptCalls(state.redis!);
    const turn = () => new Promise((resolve) => setImmediate(resolve));

    holding = true;
    const first = ask('u:1');
    await turn();
    expect(calls()).toBe(1);
    const rest = [ask('u:1'), ask('u:2'), ask('u:1')];
    for (let i = 0; i < 5; i++) await turn();
    // Its reply is held: the three wait for it rather than going out on their own.
    expect(calls()).toBe(1);
    holding = false;
    for (const release of held.splice(0)) release();
    const answers = await Promise.all([first, ...rest]);
    expect(calls()).toBe(2);
    expect(answers.map((a) => a.window.count)).toEqual([1, 2, 1, 3]);
    opened.splice(opened.indexOf(state), 1);
    await state.close();
    await new Promise((resolve) => proxy.close(resolve));
  });
});
