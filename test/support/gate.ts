import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A proxy in front of the memes subgraph that holds what it receives until
 * released, so concurrent requests are surely concurrent however slow or
 * fast the machine; released with `fail`, what it held is cut off.
 */
export interface Gate {
  url: string;
  /** Requests sent through this gate. */
  arrivals: number;
  hold(): void;
  release(options?: { fail?: boolean }): void;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startGate(target: string): Promise<Gate> {
  let held: ((fail: boolean) => void)[] | undefined;
  const hop = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive']);
  const gate: Gate = {
    url: '',
    arrivals: 0,
    hold: () => {
      held = [];
    },
    release: ({ fail = false } = {}) => {
      const waiting = held ?? [];
      held = undefined;
      for (const go of waiting) go(fail);
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer(async (req, res) => {
    const body = await readBody(req);
    gate.arrivals++;
    const forward = async () => {
      const headers = Object.entries(req.headers).filter(([name]) => !hop.has(name)) as [string, string][];
      const answer = await fetch(new URL(req.url ?? '/', target), {
        method: req.method,
        headers,
        body: req.method === 'POST' ? body : undefined,
      });
      const out = Buffer.from(await answer.arrayBuffer());
      res.writeHead(
        answer.status,
        Object.fromEntries([...answer.headers].filter(([name]) => !hop.has(name) && name !== 'content-encoding')),
      );
      res.end(out);
    };
    if (held) held.push((fail) => (fail ? req.socket.destroy() : void forward()));
    else await forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  gate.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  return gate;
}
