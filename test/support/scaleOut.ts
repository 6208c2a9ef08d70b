import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import { MIGRATIONS_DIR, createMemesServer } from '@memegraph/memes';
import { createLogger, openDb, migrate, type Db, type SubgraphServer } from '@memegraph/service-kit';
import { eventually, signUp, subscribeTo } from './accounts';
import { routerClient } from './client';
import { startProxy, type TestProxy } from './proxy';
import { fallbackLog } from './redis';
import { startStack, type Stack, type StackOptions } from './stack';

/** Two routers and two replicas of the memes subgraph behind a round-robin balancer, on one Redis (or cluster) and one PostgreSQL. */
export interface ScaleOut {
  stack: Stack;
  routerA: string;
  routerB: string;
  /** Requests each memes replica received through the balancer. */
  served: number[];
  /** Redis components routers A and B fell back from (a failing Redis command logs one). */
  fallbacks: string[];
  close(): Promise<void>;
}

export async function startScaleOut(options: Pick<StackOptions, 'redisCluster' | 'ai'> = {}): Promise<ScaleOut> {
  const stack = await startStack({
    users: 10,
    memes: 40,
    routerEnv: {
      TIERS_JSON: JSON.stringify({ anonymous: { requestsPerMinute: 30 }, free: { requestsPerMinute: 100_000 } }),
    },
    ...options,
  });
  let replicaDb: Db | undefined;
  let replica: SubgraphServer | undefined;
  let balancer: TestProxy | undefined;
  const close = async () => {
    await balancer?.close();
    await replica?.close();
    await replicaDb?.close();
    await stack.close();
  };
  try {
    // A second replica of the memes subgraph on the same database, as another instance would run.
    replicaDb = await openDb({ schema: 'memes', databaseUrl: stack.databaseUrl, poolSize: 3 });
    await migrate(replicaDb, MIGRATIONS_DIR);
    replica = await createMemesServer({
      db: replicaDb,
      signingSecret: stack.secrets.signing,
      log: createLogger('test', 'silent'),
    });
    // Round-robin in front of the two replicas, as any load balancer would.
    balancer = await startProxy([stack.subgraphUrls.memes, `${await replica.listen(0)}/graphql`]);
    const memesUrl = balancer.url('/graphql');
    // The routers' fallbacks are kept: a Redis command that fails (a cross-slot one on a cluster, say)
    // is answered from the router's own state. A starting router waits for its Redis, so none is expected.
    const { log, fallbacks } = fallbackLog();
    const routerA = await stack.addRouter({ SUBGRAPH_URL_MEMES: memesUrl }, log);
    const routerB = await stack.addRouter({ SUBGRAPH_URL_MEMES: memesUrl }, log);
    return { stack, routerA, routerB, served: balancer.served, fallbacks, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * What every router must share through Redis, asserted as a client sees it:
 * request limits, the response cache, its invalidation, entitlement
 * changes, persisted queries and usage counts.
 */
export async function expectSharedState({ stack, routerA, routerB, served, fallbacks }: ScaleOut): Promise<void> {
  // Signed up first: the anonymous limit is about to be spent (every router of the stack shares it).
  const account = await signUp(stack.routerUrl, 'scaled_out');
  const anonymousBefore = 1;

  // Request limit: 30 a minute for an anonymous client, counted across both routers.
  let refusedAt = 0;
  for (let i = 1; i <= 31 && !refusedAt; i++) {
    const r = await routerClient(i % 2 ? routerA : routerB)(`{ plans { tier } }`);
    if (r.status === 429) refusedAt = i;
  }
  expect(refusedAt).toBe(31 - anonymousBefore);

  const onA = routerClient(routerA, { authorization: `Bearer ${account.token}` });
  const onB = routerClient(routerB, { authorization: `Bearer ${account.token}` });
  let requests = 0;

  // Cache: filled through A, a hit on B.
  const [meme] = await stack.dbs.memes.query<{ id: string; score: number }>(
    `SELECT id, score FROM memes WHERE origin = 'HUMAN' ORDER BY id LIMIT 1`,
  );
  const QUERY = `query($id: ID!) { meme(id: $id) { id score } }`;
  expect((await onA(QUERY, { id: meme!.id })).headers.get('x-cache')).toBe('MISS');
  expect((await onB(QUERY, { id: meme!.id })).headers.get('x-cache')).toBe('HIT');
  requests += 2;

  // Invalidation: a vote through B (to whichever replica) shows through A.
  await onB(`mutation($id: ID!) { vote(memeId: $id, value: 1) { score } }`, { id: meme!.id });
  await eventually(
    async () =>
      (await onA<{ meme: { score: number } }>(QUERY, { id: meme!.id })).body.data!.meme.score === meme!.score + 1,
  );
  requests += 2;

  // Entitlement: the viewer router B has cached is dropped when the plan changes through A.
  const TIER = `{ me { tier } }`;
  expect((await onB<{ me: { tier: string } }>(TIER)).body.data).toEqual({ me: { tier: 'FREE' } });
  await subscribeTo(onA, 'PREMIUM');
  await eventually(async () => (await onB<{ me: { tier: string } }>(TIER)).body.data?.me.tier === 'PREMIUM');
  requests += 3;

  // APQ: registered through A, known by hash on B.
  const query = '{ templates { id name } }';
  const hash = createHash('sha256').update(query).digest('hex');
  const extensions = { persistedQuery: { version: 1, sha256Hash: hash } };
  const registered = await fetch(`${routerA}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${account.token}` },
    body: JSON.stringify({ query, extensions }),
  });
  expect(registered.status).toBe(200);
  await eventually(async () => {
    const r = await fetch(`${routerB}/graphql?extensions=${encodeURIComponent(JSON.stringify(extensions))}`, {
      headers: { authorization: `Bearer ${account.token}`, 'apollo-require-preflight': 'true' },
    });
    const body = (await r.json()) as { data?: { templates: unknown[] } };
    return r.status === 200 && Array.isArray(body.data?.templates);
  });
  requests += 2;

  // Usage: counted in Redis by both routers, flushed to PostgreSQL by whichever took the counter.
  await eventually(async () => {
    const rows = await stack.dbs.users.query<{ requests: string }>(
      `SELECT requests FROM usage_daily WHERE user_id = $1`,
      [account.id],
    );
    return Number(rows[0]?.requests ?? 0) >= requests;
  }, 3_000);

  // Both replicas did serve, and no router answered from its own state instead of Redis.
  expect(served[0]).toBeGreaterThan(0);
  expect(served[1]).toBeGreaterThan(0);
  expect(fallbacks).toEqual([]);
}
