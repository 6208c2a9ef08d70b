import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp } from './support/accounts';
import { routerClient } from './support/client';
import { startStack, type Stack } from './support/stack';

let stack: Stack;

// No Redis: the embedded default, one instance, every limit in-process.
beforeAll(async () => {
  stack = await startStack({
    users: 10,
    memes: 40,
    noRedis: true,
    routerEnv: { TIERS_JSON: JSON.stringify({ anonymous: { requestsPerMinute: 40, costBucketCapacity: 300, maxCostPerOperation: 200 } }) },
  });
});
afterAll(() => stack?.close());

describe('limits without Redis', () => {
  it('field @rateLimit admits exactly max under concurrency in one process', async () => {
    await signUp(stack.routerUrl, 'solo_user');
    const LOGIN = `mutation { logIn(handle: "solo_user", password: "a long test password") { token } }`;
    const responses = await Promise.all(Array.from({ length: 25 }, () => routerClient(stack.routerUrl)<{ logIn: { token: string } | null }>(LOGIN)));
    expect(responses.filter((r) => r.body.data?.logIn?.token)).toHaveLength(10);
    expect(responses.filter((r) => r.body.errors?.[0]?.extensions?.code === 'RATE_LIMIT_EXCEEDED')).toHaveLength(15);
  });

  it('the cost bucket throttles and the request limit refuses, with their headers', async () => {
    const client = routerClient(stack.routerUrl);
    let throttled = 0;
    let limited = 0;
    for (let i = 0; i < 20; i++) {
      const response = await client(`{ trending(first: 100) { id } }`);
      if (response.body.errors?.[0]?.extensions?.code === 'THROTTLED') throttled++;
      if (response.status === 429 && response.body.errors?.[0]?.extensions?.code === 'RATE_LIMIT_EXCEEDED') limited++;
      expect(response.headers.get('x-ratelimit-limit')).toBe('40');
    }
    // 300 points hold three operations of 100; the rest of the 20 are throttled or over the request limit.
    expect(throttled).toBeGreaterThanOrEqual(10);
    expect(limited).toBeGreaterThan(0);
  });
});
