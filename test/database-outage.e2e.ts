import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, createMemesServer } from '@memegraph/memes';
import { createLogger, migrate, openDb, type Db, type SubgraphServer } from '@memegraph/service-kit';
import { eventually } from './support/accounts';
import { routerClient } from './support/client';
import { GENEROUS_ANONYMOUS, startStack, type Stack } from './support/stack';

let stack: Stack;
let proxy: net.Server;
let db: Db;
let memes: SubgraphServer;
const sockets = new Set<net.Socket>();
let down = false;

beforeAll(async () => {
  stack = await startStack({ users: 5, memes: 20, routerEnv: { TIERS_JSON: GENEROUS_ANONYMOUS } });
  // A TCP proxy in front of PostgreSQL that can cut every connection, as an outage would.
  proxy = net.createServer((client) => {
    if (down) return client.destroy();
    const server = net.connect(5432, '127.0.0.1');
    for (const s of [client, server]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(server).pipe(client);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const url = new URL(stack.databaseUrl);
  url.host = `127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
  db = await openDb({ schema: 'memes', databaseUrl: url.toString(), poolSize: 3 });
  await migrate(db, MIGRATIONS_DIR);
  memes = await createMemesServer({ db, signingSecret: stack.secrets.signing, log: createLogger('test', 'silent') });
});
afterAll(async () => {
  await memes?.close();
  await db?.close().catch(() => undefined);
  for (const s of sockets) s.destroy();
  await new Promise((r) => proxy?.close(r));
  await stack?.close();
});

describe('PostgreSQL down and back', () => {
  it('gives clear errors while the database is away, never crashes, and recovers', async () => {
    const memesUrl = `${await memes.listen(0)}/graphql`;
    const router = await stack.addRouter({ SUBGRAPH_URL_MEMES: memesUrl, CACHE_LOCAL_TTL_MS: '0' });
    const client = routerClient(router);
    const QUERY = `{ plans { tier } randomMeme { id } }`;
    expect((await client(QUERY)).body.errors).toBeUndefined();

    down = true;
    for (const s of sockets) s.destroy();
    const during = await client<{ plans: unknown[]; randomMeme: unknown }>(QUERY);
    expect(during.status).toBe(200);
    expect(during.body.data!.plans).toHaveLength(4);
    expect(during.body.data!.randomMeme).toBeNull();
    expect(during.body.errors?.[0]?.extensions).toMatchObject({
      code: 'DOWNSTREAM_SERVICE_ERROR',
      serviceName: 'memes',
    });
    expect(JSON.stringify(during.body)).not.toMatch(/ECONN|5432|postgres/i);
    const ready = await fetch(new URL('/ready', memesUrl));
    expect(ready.status).toBe(503);
    expect((await fetch(new URL('/health', memesUrl))).status).toBe(200);

    down = false;
    await eventually(async () => !(await client(QUERY)).body.errors, 5_000, 100);
    expect((await fetch(new URL('/ready', memesUrl))).status).toBe(200);
  });
});
