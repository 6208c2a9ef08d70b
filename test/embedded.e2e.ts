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
    routerEnv: {
      TIERS_JSON: JSON.stringify({
        anonymous: { requestsPerMinute: 40, costBucketCapacity: 50, costRestorePerSecond: 1 },
      }),
    },
  });
});
afterAll(() => stack?.close());

describe('limits without Redis', () => {
  it('field @rateLimit admits exactly max under concurrency in one process', async () => {
    // Signed in, so the anonymous tier's small cost bucket (used below) does not get in the way.
    const account = await signUp(stack.routerUrl, 'solo_user');
    const LOGIN = `mutation { logIn(handle: "solo_user", password: "a long test password") { token } }`;
    const responses = await Promise.all(
      Array.from({ length: 25 }, () => account.client<{ logIn: { token: string } | null }>(LOGIN)),
    );
    expect(responses.filter((r) => r.body.data?.logIn?.token)).toHaveLength(10);
    expect(responses.filter((r) => r.body.errors?.[0]?.extensions?.code === 'RATE_LIMIT_EXCEEDED')).toHaveLength(15);
  });

  it('the cost bucket throttles and the request limit refuses, with their headers', async () => {
    const client = routerClient(stack.routerUrl);
    let throttled = 0;
    let limited = 0;
    for (let i = 0; i < 20; i++) {
      // Ten random memes, 10 points, never from the response cache.
      const response = await client(
        `{ ${Array.from({ length: 10 }, (_, n) => `m${n}: randomMeme { id }`).join(' ')} }`,
      );
      if (response.body.errors?.[0]?.extensions?.code === 'THROTTLED') throttled++;
      if (response.status === 429 && response.body.errors?.[0]?.extensions?.code === 'RATE_LIMIT_EXCEEDED') limited++;
      expect(response.headers.get('x-ratelimit-limit')).toBe('40');
    }
    // 50 points hold five operations of 10; past them comes THROTTLED.
    expect(throttled).toBeGreaterThanOrEqual(10);
    for (let i = 0; i < 40 && limited === 0; i++) {
      const response = await client(`{ plans { tier } }`);
      if (response.status === 429 && response.body.errors?.[0]?.extensions?.code === 'RATE_LIMIT_EXCEEDED') limited++;
    }
    // 40 requests a minute: the request limit refuses before the loop ends.
    expect(limited).toBe(1);
  });
});
