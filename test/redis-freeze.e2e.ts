import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, signUp } from './support/accounts';
import { routerClient } from './support/client';
import { redisReadiness } from './support/redis';
import { startFreezableRedisProxy, type FreezableRedisProxy } from './support/redisProxy';
import { TEST_REDIS_URL, startStack, type Stack } from './support/stack';

/*
 * A Redis that stops answering without closing its connections (stopped, or
 * behind a network black hole): the router must keep serving on its own
 * state, and go back to Redis once it answers again.
 */

let stack: Stack;
let proxy: FreezableRedisProxy;
let redis: Redis;

beforeAll(async () => {
  proxy = await startFreezableRedisProxy(TEST_REDIS_URL);
  redis = new Redis(TEST_REDIS_URL);
  stack = await startStack({
    users: 10,
    memes: 30,
    routerEnv: { REDIS_URL: proxy.url, TIERS_JSON: JSON.stringify({ anonymous: { requestsPerMinute: 5 } }) },
  });
});
afterAll(async () => {
  proxy?.resume();
  await stack?.close();
  await proxy?.close();
  redis?.disconnect();
});

describe('A frozen Redis', () => {
  it('leaves the router answering on its own limits, readiness reporting it, until Redis answers again', async () => {
    const QUERY = `{ templates { id } }`;
    const anonymous = routerClient(stack.routerUrl);
    const owner = await signUp(stack.routerUrl, 'frozen_redis_owner');
    const created = await owner.client<{ createApiKey: { secret: string } }>(
      `mutation { createApiKey(name: "frozen") { secret } }`,
    );
    const withKey = routerClient(stack.routerUrl, { 'x-api-key': created.body.data!.createApiKey.secret });
    const ME = `{ me { id } }`;
    // The API key's window in Redis: 500 of the free tier's 1000 a minute spent.
    const userWindow = `${stack.redisPrefix}rl:{u:${owner.id}}`;
    await redis.set(userWindow, 500, 'PX', 60_000);
    expect((await withKey(ME)).headers.get('x-ratelimit-remaining')).toBe('499');
    // The sign-up was the address's first request, counted in Redis: this is its second.
    const before = await anonymous(QUERY);
    expect(before.headers.get('x-ratelimit-remaining')).toBe('3');
    const templates = before.body.data;
    expect(templates?.templates).not.toHaveLength(0);

    proxy.freeze();
    // Answered on this router's own windows, which start here.
    for (const remaining of ['4', '3', '2', '1', '0']) {
      const during = await anonymous(QUERY);
      expect(during.status).toBe(200);
      expect(during.body.errors).toBeUndefined();
      expect(during.body.data).toEqual(templates);
      expect(during.headers.get('x-ratelimit-limit')).toBe('5');
      expect(during.headers.get('x-ratelimit-remaining')).toBe(remaining);
    }
    const limited = await anonymous(QUERY);
    expect(limited.status).toBe(429);
    for (const remaining of ['999', '998']) {
      const me = await withKey<{ me: { id: string } }>(ME);
      expect(me.status).toBe(200);
      expect(me.body.errors).toBeUndefined();
      expect(me.body.data).toEqual({ me: { id: owner.id } });
      expect(me.headers.get('x-ratelimit-limit')).toBe('1000');
      expect(me.headers.get('x-ratelimit-remaining')).toBe(remaining);
    }
    const ready = await fetch(`${stack.routerUrl}/ready`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { checks: Record<string, string> }).checks.redis).toBe('unavailable');

    proxy.resume();
    await eventually(async () => (await redisReadiness(stack.routerUrl)) === 'ok', 10_000, 100);
    // Counted in Redis again: the window there goes on from what it holds.
    await eventually(
      async () => {
        await redis.set(userWindow, 700, 'PX', 60_000);
        const me = await withKey<{ me: { id: string } }>(ME);
        expect(me.body.data).toEqual({ me: { id: owner.id } });
        return me.headers.get('x-ratelimit-remaining') === '299';
      },
      10_000,
      100,
    );
    expect(await redis.get(userWindow)).toBe('701');
  }, 60_000);
});
