import { createServer, type Server } from 'node:net';
import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';

/*
 * For the Redis servers tests start themselves, and the keys tests leave
 * behind on any Redis.
 */

/** `count` ports free at once (a cluster node needs a client port and a bus port; a server the test restarts needs one it can keep). */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
    }
    return servers.map((s) => (s.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

/** Every key of `node` starting with `prefix`. On a cluster node SCAN sees only that node's own keys. */
export async function keysOf(node: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/** Deletes every key of `node` starting with `prefix`: one DEL per key, as a cluster node refuses a DEL across slots. */
export async function dropKeys(node: Redis, prefix: string): Promise<void> {
  await Promise.all((await keysOf(node, prefix)).map((key) => node.del(key)));
}

/** What a router's `/ready` says of its Redis: `ok` or `unavailable`. */
export async function redisReadiness(routerUrl: string): Promise<string | undefined> {
  const ready = (await (await fetch(`${routerUrl}/ready`)).json()) as { checks: Record<string, string> };
  return ready.checks.redis;
}

/**
 * A log for routers that keeps the Redis components they fell back from: a
 * command that fails is answered from the router's own state, which a
 * response alone would not show.
 */
export function fallbackLog(): { log: Logger; fallbacks: string[] } {
  const fallbacks: string[] = [];
  const warnings = new Writable({
    write(line: Buffer, _encoding, done) {
      const entry = JSON.parse(line.toString()) as { component?: string };
      if (entry.component) fallbacks.push(entry.component);
      done();
    },
  });
  return { log: pino({ level: 'warn' }, warnings), fallbacks };
}
