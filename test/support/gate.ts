import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { storedParts } from '@memegraph/router';
import { cacheKeyKinds } from '@memegraph/router/cache-keys';
import { eventually } from './accounts';

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

/** A metric's value summed over routers' /metrics (0 where a router has none). */
export async function metricTotal(routerUrls: readonly string[], name: string): Promise<number> {
  let total = 0;
  for (const url of routerUrls) {
    const text = await (await fetch(`${url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    total += line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  }
  return total;
}

/**
 * Sends `requests` at once with the gate shut, and opens it once each has
 * reached the memes subgraph or is waiting for another's execution (the
 * routers' single-flight waits); counts the memes and users calls they made.
 */
export async function sendTogether<T>(
  gate: Gate,
  routerUrls: readonly string[],
  usersCalls: () => number,
  requests: (() => Promise<T>)[],
  release: { fail?: boolean } = {},
): Promise<{ answers: T[]; memes: number; users: number }> {
  const waits = () => metricTotal(routerUrls, 'response_cache_single_flight_waits_total');
  const before = { memes: gate.arrivals, users: usersCalls(), waits: await waits() };
  gate.hold();
  const answers = Promise.all(requests.map((send) => send()));
  try {
    await eventually(
      async () => gate.arrivals - before.memes + (await waits()) - before.waits >= requests.length,
      30_000,
      50,
    );
  } finally {
    gate.release(release);
  }
  return { answers: await answers, memes: gate.arrivals - before.memes, users: usersCalls() - before.users };
}

/**
 * Makes every response-cache entry under `prefix` older than its maxAge by
 * `pastMaxAgeSeconds` (five by default), as time would (stale windows, if
 * any, still ahead).
 */
export async function ageCachedAnswers(redis: Redis, prefix: string, pastMaxAgeSeconds = 5): Promise<number> {
  let aged = 0;
  for (const key of await redis.keys(`${prefix}${cacheKeyKinds().response.entry}:*`)) {
    const raw = await redis.get(key);
    if (!raw) continue;
    const { head, value } = storedParts(raw);
    const entry = JSON.parse(value) as { storedAt: number; maxAge: number };
    entry.storedAt -= (entry.maxAge + pastMaxAgeSeconds) * 1000;
    await redis.set(key, head + JSON.stringify(entry), 'KEEPTTL');
    aged++;
  }
  return aged;
}
