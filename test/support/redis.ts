import { createServer, type Server } from 'node:net';
import type { Redis } from 'ioredis';

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
