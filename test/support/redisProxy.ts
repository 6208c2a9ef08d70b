import net from 'node:net';
import type { AddressInfo } from 'node:net';

/** A TCP proxy in front of a Redis that can hold back Redis's replies, as a frozen Redis would. */
export interface FreezableRedisProxy {
  /** `redis://` URL of the proxy. */
  url: string;
  /**
   * Stops passing Redis's replies on: connections stay open and commands still reach Redis, but
   * nothing comes back (a SIGSTOPped redis-server, a network black hole).
   */
  freeze(): void;
  /** Passes the replies held back, and every later one, on again. */
  resume(): void;
  close(): Promise<void>;
}

/** Starts a proxy on a free port in front of the Redis at `redisUrl`. */
export async function startFreezableRedisProxy(redisUrl: string): Promise<FreezableRedisProxy> {
  const target = new URL(redisUrl);
  let frozen = false;
  const connections = new Set<{ client: net.Socket; held: Buffer[] }>();
  const server = net.createServer((client) => {
    const connection = { client, held: [] as Buffer[] };
    connections.add(connection);
    const upstream = net.connect(Number(target.port || 6379), target.hostname);
    client.pipe(upstream);
    upstream.on('data', (data: Buffer) => (frozen ? connection.held.push(data) : client.write(data)));
    const end = () => {
      connections.delete(connection);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    freeze: () => {
      frozen = true;
    },
    resume: () => {
      frozen = false;
      for (const { client, held } of connections) for (const data of held.splice(0)) client.write(data);
    },
    close: async () => {
      for (const { client } of connections) client.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
