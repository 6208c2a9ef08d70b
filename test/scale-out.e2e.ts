import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, createMemesServer } from '@memegraph/memes';
import { createLogger, openDb, migrate, type Db, type SubgraphServer } from '@memegraph/service-kit';
import { eventually, signUp } from './support/accounts';
import { routerClient } from './support/client';
import { startStack, type Stack } from './support/stack';

let stack: Stack;
let replicaDb: Db;
let replica: SubgraphServer;
let balancer: http.Server;
const served = { first: 0, second: 0 };
let routerA: string;
let routerB: string;

beforeAll(async () => {
  stack = await startStack({
    users: 10,
    memes: 40,
    routerEnv: { TIERS_JSON: JSON.stringify({ anonymous: { requestsPerMinute: 30 }, free: { requestsPerMinute: 100_000 } }) },
  });
  // A second replica of the memes subgraph on the same database, as another instance would run.
  replicaDb = await openDb({ schema: 'memes', databaseUrl: stack.databaseUrl, poolSize: 3 });
  await migrate(replicaDb, MIGRATIONS_DIR);
  replica = await createMemesServer({ db: replicaDb, signingSecret: stack.secrets.signing, log: createLogger('test', 'silent') });
  const replicas = [new URL(stack.subgraphUrls.memes), new URL(`${await replica.listen(0)}/graphql`)];
  // Round-robin in front of the two replicas, as any load balancer would.
  let next = 0;
  balancer = http.createServer((req, res) => {
    const index = next++ % 2;
    served[index === 0 ? 'first' : 'second']++;
    const target = replicas[index]!;
    const upstream = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => balancer.listen(0, '127.0.0.1', r));
  const memesUrl = `http://127.0.0.1:${(balancer.address() as AddressInfo).port}/graphql`;
  routerA = await stack.addRouter({ SUBGRAPH_URL_MEMES: memesUrl });
  routerB = await stack.addRouter({ SUBGRAPH_URL_MEMES: memesUrl });
});
afterAll(async () => {
  balancer?.closeAllConnections();
  await new Promise((r) => balancer?.close(r));
  await replica?.close();
  await replicaDb?.close();
  await stack?.close();
});

describe('two routers and two replicas of the memes subgraph, one Redis and one PostgreSQL', () => {
  it('share request limits, caches, invalidation and persisted queries', async () => {
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

    // Cache: filled through A, a hit on B.
    const [meme] = await stack.dbs.memes.query<{ id: string; score: number }>(`SELECT id, score FROM memes WHERE origin = 'HUMAN' ORDER BY id LIMIT 1`);
    const QUERY = `query($id: ID!) { meme(id: $id) { id score } }`;
    expect((await onA(QUERY, { id: meme!.id })).headers.get('x-cache')).toBe('MISS');
    expect((await onB(QUERY, { id: meme!.id })).headers.get('x-cache')).toBe('HIT');

    // Invalidation: a vote through B (to whichever replica) shows through A.
    await onB(`mutation($id: ID!) { vote(memeId: $id, value: 1) { score } }`, { id: meme!.id });
    await eventually(async () => (await onA<{ meme: { score: number } }>(QUERY, { id: meme!.id })).body.data!.meme.score === meme!.score + 1);

    // APQ: registered through A, known by hash on B.
    const query = '{ templates { id name } }';
    const hash = (await import('node:crypto')).createHash('sha256').update(query).digest('hex');
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

    // Both replicas did serve.
    expect(served.first).toBeGreaterThan(0);
    expect(served.second).toBeGreaterThan(0);
  });
});
