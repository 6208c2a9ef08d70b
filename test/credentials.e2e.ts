import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp } from './support/accounts';
import { routerClient, type GraphQLResponse } from './support/client';
import { startStack, type Stack } from './support/stack';

let stack: Stack;

/** Failed credentials an address may send before it is refused (AUTH_FAILURES_PER_ADDRESS). */
const FAILURES_PER_ADDRESS = 20;

beforeAll(async () => {
  stack = await startStack({
    users: 5,
    memes: 20,
    // The tests speak for many client addresses through X-Forwarded-For, as a load balancer on loopback would.
    routerEnv: { TRUST_PROXY: 'loopback', AUTH_FAILURES_PER_ADDRESS: String(FAILURES_PER_ADDRESS) },
  });
});
afterAll(() => stack?.close());

const randomKey = () => `mg_${randomBytes(24).toString('base64url')}`;
const from = (address: string, headers: Record<string, string> = {}) => routerClient(stack.routerUrl, { 'x-forwarded-for': address, ...headers });
/** SQL statements the users subgraph has run: each credential lookup is one. */
const usersStatements = () => stack.dbs.users.stats.statements;

/** Runs `tasks` with at most `width` in flight, in order. */
async function inParallel<T>(count: number, width: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

const outcomes = (responses: GraphQLResponse[]) => {
  const counts: Record<string, number> = {};
  for (const r of responses) {
    const key = `${r.status} ${r.body.errors?.[0]?.extensions?.code ?? 'ok'}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
};

describe('invalid credentials are limited per client address before any lookup', () => {
  it('an unknown key is remembered: sent from 40 addresses it is looked up once, and each gets 401', async () => {
    const key = randomKey();
    const before = usersStatements();
    for (let i = 1; i <= 40; i++) {
      const response = await from(`192.0.2.${i}`, { 'x-api-key': key })(`{ plans { tier } }`);
      expect(response.status).toBe(401);
      expect(response.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    }
    expect(usersStatements() - before).toBe(1);
  });

  it('600 random API keys from one address: 429 RATE_LIMIT_EXCEEDED with Retry-After after the allowance, a bounded number of lookups; another address is served', async () => {
    // No signed-in request before the flood: a usage flush would be a statement of its own.
    const before = usersStatements();
    const flood = 600;
    const responses = await inParallel(flood, 50, () => from('203.0.113.66', { 'x-api-key': randomKey() })(`{ plans { tier } }`));
    const lookups = usersStatements() - before;
    const counts = outcomes(responses);

    const refused = responses.filter((r) => r.status === 429);
    expect(refused.length, `${JSON.stringify(counts)}, ${lookups} lookups`).toBeGreaterThanOrEqual(flood - FAILURES_PER_ADDRESS);
    expect(Object.keys(counts).sort()).toEqual(['401 UNAUTHENTICATED', '429 RATE_LIMIT_EXCEEDED']);
    for (const r of refused) expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(lookups, `users subgraph statements for ${flood} random keys`).toBeLessThanOrEqual(FAILURES_PER_ADDRESS);

    const owner = await signUp(stack.routerUrl, 'key_owner');
    const created = await owner.client<{ createApiKey: { secret: string } }>(`mutation { createApiKey(name: "ci") { secret } }`);
    const validKey = created.body.data!.createApiKey.secret;
    // A valid key from another address is not caught by that address's refusals.
    const served = await from('198.51.100.20', { 'x-api-key': validKey })<{ me: { id: string } }>(`{ me { id } }`);
    expect(served.status).toBe(200);
    expect(served.body.data!.me.id).toBe(owner.id);
    // The flooding address itself is still refused, even with a credential never seen before.
    const still = await from('203.0.113.66', { 'x-api-key': randomKey() })(`{ plans { tier } }`);
    expect(still.status).toBe(429);
  });
});
