import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, signUp } from './support/accounts';
import { routerClient } from './support/client';
import { startStack, type Stack } from './support/stack';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ users: 20, memes: 150 });
});
afterAll(() => stack?.close());

/** Sends `request` and checks no subgraph saw anything. */
async function withoutSubgraphCalls<T>(request: () => Promise<T>): Promise<T> {
  const before = stack.subgraphRequests();
  const result = await request();
  expect(stack.subgraphRequests()).toEqual(before);
  return result;
}

describe('demand control', () => {
  it('reports extensions.cost on every response and refunds what the estimate over-charged', async () => {
    const response = await routerClient(stack.routerUrl)<{ trending: unknown[] }>(
      `{ trending(first: 3) { id author { handle } } }`,
    );
    expect(response.body.extensions?.cost).toEqual({
      requestedQueryCost: 6,
      actualQueryCost: 6,
      throttleStatus: { maximumAvailable: 1000, currentlyAvailable: expect.any(Number), restoreRate: 50 },
    });
    // Only the human memes an anonymous viewer sees exist to fill a page: the actual cost is lower than the estimate.
    const big = await routerClient(stack.routerUrl)<{ search: unknown[] }>(
      `{ search(text: "zzzznotaword", first: 20) { id } }`,
    );
    expect(big.body.data!.search).toEqual([]);
    expect(big.body.extensions?.cost).toMatchObject({ requestedQueryCost: 100, actualQueryCost: 0 });
  });

  it('rejects an operation over the tier maximum with COST_ESTIMATED_TOO_EXPENSIVE before any subgraph call', async () => {
    const response = await withoutSubgraphCalls(() =>
      routerClient(stack.routerUrl)(
        `{ memes(first: 100) { edges { node { id author { handle } template { name } } } } }`,
      ),
    );
    expect(response.status).toBe(400);
    expect(response.body.errors?.[0]?.extensions).toMatchObject({
      code: 'COST_ESTIMATED_TOO_EXPENSIVE',
      cost: { estimated: 401, max: 200 },
    });
    expect(response.body.data).toBeUndefined();
  });

  it('answers Query.rateLimit like GitHub; dryRun alone charges nothing, and never hides the other fields', async () => {
    const account = await signUp(stack.routerUrl, 'budget_watcher');
    type Rate = { cost: number; limit: number; remaining: number; used: number; nodeCount: number; resetAt: string };
    const DRY = `query($dry: Boolean) { rateLimit(dryRun: $dry) { cost limit remaining used resetAt nodeCount } }`;
    const dry = await account.client<{ rateLimit: Rate }>(DRY, { dry: true });
    expect(dry.body.data!.rateLimit).toMatchObject({ cost: 0, limit: 5000, remaining: 5000, used: 0, nodeCount: 0 });

    // Asked beside other fields, dryRun does not make them free, nor leave them out of the answer.
    const RATE = `query($dry: Boolean) { rateLimit(dryRun: $dry) { cost limit remaining used resetAt nodeCount } trending(first: 4) { id } }`;
    const beside = await account.client<{ rateLimit: Rate; trending: unknown[] }>(RATE, { dry: true });
    expect(beside.status).toBe(200);
    expect(beside.body.data!.trending).toHaveLength(4);
    expect(beside.body.data!.rateLimit).toMatchObject({ cost: 4, remaining: 4996, used: 4, nodeCount: 4 });

    const real = await account.client<{ rateLimit: Rate; trending: unknown[] }>(RATE, { dry: false });
    expect(real.body.data!.trending).toHaveLength(4);
    // Charged again (the bucket restores a little between the two requests).
    expect(real.body.data!.rateLimit.cost).toBe(4);
    expect(real.body.data!.rateLimit.used).toBeGreaterThanOrEqual(4);
    expect(Date.parse(real.body.data!.rateLimit.resetAt)).toBeGreaterThan(Date.now());

    const me = await account.client<{ me: { handle: string }; rateLimit: { cost: number } }>(
      `query { me { handle } rateLimit(dryRun: true) { cost } }`,
    );
    expect(me.body.errors).toBeUndefined();
    expect(me.body.data).toEqual({ me: { handle: 'budget_watcher' }, rateLimit: { cost: 1 } });
  });

  it('throttles with THROTTLED, 429 and Retry-After once the bucket is empty, shared by two routers', async () => {
    const tiers = JSON.stringify({
      anonymous: { costBucketCapacity: 20, costRestorePerSecond: 1, maxCostPerOperation: 15 },
    });
    const a = await stack.addRouter({ TIERS_JSON: tiers, REDIS_PREFIX: `${stack.routerEnv.REDIS_PREFIX}throttle:` });
    const second = await stack.addRouter({
      TIERS_JSON: tiers,
      REDIS_PREFIX: `${stack.routerEnv.REDIS_PREFIX}throttle:`,
    });
    // Ten random memes: 10 points, and never served from the response cache.
    const QUERY = `{ ${Array.from({ length: 10 }, (_, i) => `m${i}: randomMeme { id }`).join(' ')} }`;
    expect((await routerClient(a)(QUERY)).status).toBe(200); // 10 of 20 points
    expect((await routerClient(second)(QUERY)).status).toBe(200); // the other 10, on the other router
    const refused = await withoutSubgraphCalls(() => routerClient(a)(QUERY));
    expect(refused.status).toBe(429);
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('THROTTLED');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.body.extensions?.cost).toMatchObject({ throttleStatus: { maximumAvailable: 20, restoreRate: 1 } });
  });
});

describe('request rate limits', () => {
  it('sends X-RateLimit headers on every response and 429 RATE_LIMIT_EXCEEDED past the limit, counted across routers', async () => {
    const env = {
      TIERS_JSON: JSON.stringify({ anonymous: { requestsPerMinute: 5 } }),
      REDIS_PREFIX: `${stack.routerEnv.REDIS_PREFIX}rpm:`,
    };
    const a = routerClient(await stack.addRouter(env));
    const b = routerClient(await stack.addRouter(env));
    const seen: string[] = [];
    for (const client of [a, b, a, b, a]) {
      const response = await client(`{ plans { tier } }`);
      expect(response.status).toBe(200);
      expect(response.headers.get('x-ratelimit-limit')).toBe('5');
      seen.push(response.headers.get('x-ratelimit-remaining')!);
      expect(Number(response.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000);
    }
    expect(seen).toEqual(['4', '3', '2', '1', '0']);
    const refused = await withoutSubgraphCalls(() => b(`{ plans { tier } }`));
    expect(refused.status).toBe(429);
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('RATE_LIMIT_EXCEEDED');
    expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('a daily quota from the tier table rejects with RATE_LIMIT_EXCEEDED once spent', async () => {
    const env = {
      TIERS_JSON: JSON.stringify({ free: { dailyRequestQuota: 3 } }),
      REDIS_PREFIX: `${stack.routerEnv.REDIS_PREFIX}quota:`,
    };
    const router = await stack.addRouter(env);
    const account = await signUp(stack.routerUrl, 'quota_user');
    const client = routerClient(router, { authorization: `Bearer ${account.token}` });
    for (let i = 0; i < 3; i++) expect((await client(`{ me { id } }`)).status).toBe(200);
    const refused = await client(`{ me { id } }`);
    expect(refused.status).toBe(429);
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED', quota: 'daily' });
  });
});

describe('field-level @rateLimit', () => {
  it('200 concurrent calls of a field limited to 10 a minute, through two routers, give exactly 10 successes', async () => {
    const env = {
      // Only the field limit may say no here: requests and cost points are plentiful.
      TIERS_JSON: JSON.stringify({ anonymous: { requestsPerMinute: 10_000, costBucketCapacity: 1_000_000 } }),
      REDIS_PREFIX: `${stack.routerEnv.REDIS_PREFIX}field:`,
    };
    const routers = [await stack.addRouter(env), await stack.addRouter(env)];
    await signUp(stack.routerUrl, 'hammered', undefined);
    const LOGIN = `mutation { logIn(handle: "hammered", password: "a long test password") { token } }`;
    const responses = await Promise.all(
      Array.from({ length: 200 }, (_, i) => routerClient(routers[i % 2]!)<{ logIn: { token: string } | null }>(LOGIN)),
    );
    const ok = responses.filter((r) => r.body.data?.logIn?.token);
    const limited = responses.filter((r) => r.body.errors?.[0]?.extensions?.code === 'RATE_LIMIT_EXCEEDED');
    const outcomes: Record<string, number> = {};
    for (const r of responses) {
      const key = r.body.data?.logIn?.token
        ? 'ok'
        : `${r.status} ${r.body.errors?.[0]?.extensions?.code} ${r.body.errors?.[0]?.message}`;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
    }
    expect(ok, JSON.stringify(outcomes)).toHaveLength(10);
    expect(limited, JSON.stringify(outcomes)).toHaveLength(190);
    expect(limited.every((r) => r.status === 429)).toBe(true);
  });
});

describe('operation limits', () => {
  const client = () => routerClient(stack.routerUrl);
  /** trending → author → memes → edges → node, `times` over: five levels each. */
  const nest = (times: number) =>
    `{ ${'trending(first: 1) { author { memes(first: 1) { edges { node { '.repeat(times)}id${' } } } } }'.repeat(times)} }`;

  it.each([
    ['MAX_DEPTH_EXCEEDED', 400, nest(3)],
    ['MAX_ALIASES_EXCEEDED', 400, `{ ${Array.from({ length: 16 }, (_, i) => `a${i}: plans { tier }`).join(' ')} }`],
    ['MAX_ROOT_FIELDS_EXCEEDED', 400, `{ ${Array.from({ length: 11 }, () => `plans { tier }`).join(' ')} }`],
    ['MAX_TOKENS_EXCEEDED', 400, `{ plans { ${'x '.repeat(2100)} } }`],
    ['DOCUMENT_TOO_LARGE', 413, `{ plans { tier } } # ${'x'.repeat(9000)}`],
  ])('%s: %i, before any subgraph call', async (code, status, query) => {
    const response = await withoutSubgraphCalls(() => client()(query));
    expect(response.status).toBe(status);
    expect(response.body.errors?.[0]?.extensions?.code).toBe(code);
  });

  it('BATCH_TOO_LARGE for a batch over the tier limit; a batch within it is served', async () => {
    const account = await signUp(stack.routerUrl, 'batcher');
    const post = (count: number) =>
      fetch(`${stack.routerUrl}/graphql`, {
        method: 'POST',
        // application/graphql-response+json: a refused request is a 4xx (application/json would answer 200).
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json',
          authorization: `Bearer ${account.token}`,
        },
        body: JSON.stringify(Array.from({ length: count }, () => ({ query: '{ plans { tier } }' }))),
      });
    const ok = await post(5);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as unknown[]).length).toBe(5);
    const refused = await post(6);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe(
      'BATCH_TOO_LARGE',
    );
  });

  it('a document sent by APQ hash alone is held to the sender’s limits, not the registrant’s', async () => {
    // Eleven levels: within an enterprise viewer's depth limit (20), past an anonymous one's (10).
    const query = `{ trending(first: 1) { author { memes(first: 1) { edges { node { author { memes(first: 1) { edges { node { author { handle } } } } } } } } } } }`;
    const { createHash } = await import('node:crypto');
    const extensions = { persistedQuery: { version: 1, sha256Hash: createHash('sha256').update(query).digest('hex') } };
    const enterprise = await signUp(stack.routerUrl, 'apq_registrant', 'ENTERPRISE');
    const registered = await fetch(`${stack.routerUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${enterprise.token}` },
      body: JSON.stringify({ query, extensions }),
    });
    expect(registered.status).toBe(200);
    const byHash = `${stack.routerUrl}/graphql?extensions=${encodeURIComponent(JSON.stringify(extensions))}`;
    let code: string | undefined;
    await eventually(async () => {
      const answer = await fetch(byHash, { headers: { 'apollo-require-preflight': 'true' } });
      code = ((await answer.json()) as { errors?: { extensions?: { code?: string } }[] }).errors?.[0]?.extensions?.code;
      return code !== 'PERSISTED_QUERY_NOT_FOUND';
    });
    expect(code).toBe('MAX_DEPTH_EXCEEDED');
  });

  it('circular fragments are refused without hanging', async () => {
    const response = await client()(
      `query { plans { ...A } } fragment A on Plan { tier ...B } fragment B on Plan { name ...A }`,
    );
    expect(response.status).toBe(400);
    expect(response.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('schema tools can still introspect', async () => {
    const { getIntrospectionQuery } = await import('graphql');
    const response = await client()<{ __schema: { queryType: { name: string }; types: { name: string }[] } }>(
      getIntrospectionQuery({ inputValueDeprecation: true }),
    );
    expect(response.status).toBe(200);
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data!.__schema.queryType.name).toBe('Query');
    expect(response.body.data!.__schema.types.map((t) => t.name)).toContain('Meme');
    // Introspection beside a field the router answers itself, and __typename alone.
    const mixed = await client()<{ __typename: string; rateLimit: { cost: number } }>(
      `{ __typename rateLimit(dryRun: true) { cost } }`,
    );
    expect(mixed.body.data).toEqual({ __typename: 'Query', rateLimit: { cost: 0 } });
    expect((await client()(`{ __typename }`)).body.data).toEqual({ __typename: 'Query' });
  });
});

describe('usage metering', () => {
  it('counts requests and cost points per day in Redis and flushes them to PostgreSQL in the background', async () => {
    const account = await signUp(stack.routerUrl, 'metered');
    // Random memes (1 point each) are never cache hits, which cost nothing.
    for (let i = 0; i < 3; i++) await account.client(`{ a: randomMeme { id } b: randomMeme { id } }`);
    await eventually(async () => {
      const rows = await stack.dbs.users.query<{ requests: string }>(
        `SELECT requests FROM usage_daily WHERE user_id = $1`,
        [account.id],
      );
      return Number(rows[0]?.requests ?? 0) >= 3;
    }, 3000);
    const usage = await account.client<{ me: { usage: { day: string; requests: number; costPoints: number }[] } }>(
      `{ me { usage(days: 2) { day requests costPoints } } }`,
    );
    const [today, yesterday] = usage.body.data!.me.usage;
    expect(today!.day).toBe(new Date().toISOString().slice(0, 10));
    expect(today!.requests).toBeGreaterThanOrEqual(3);
    expect(today!.costPoints).toBeGreaterThanOrEqual(6);
    expect(yesterday).toMatchObject({ requests: 0, costPoints: 0 });
  });
});
