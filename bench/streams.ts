/**
 * `npm run bench:streams [-- --streams 1000,5000]`: how many subscriptions a
 * router holds open and what they cost it in memory.
 *
 * Starts users, memes and ai from their sources and one router (tsx, as
 * `npm run dev` runs them) against a database and Redis prefix of the run's
 * own, signs up one Memes AI viewer, then for each count N and each transport
 * opens N idle `myGenerations` subscriptions, each on a connection of its own
 * (SSE: one POST per stream; WebSocket: one connection, one subscription
 * each), waits until the router's `subscription_streams` gauge says N, lets
 * it sit idle, and reads the router's RSS (/proc) and V8 heap in use (its
 * /metrics) after a full garbage collection (through the router's inspector,
 * on loopback, for this run only), against the same figures with nothing open. Streams are closed
 * between counts. Needs PostgreSQL (TEST_DATABASE_URL, an admin connection)
 * and Redis (BENCH_REDIS_URL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { createTestDatabase } from '../test/support/database';
import { dropKeys } from '../test/support/redis';

const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values } = parseArgs({ options: { streams: { type: 'string', default: '1000,5000' } } });
const COUNTS = values.streams.split(',').map(Number);
/** A measurement window after the streams are open, not a synchronization. */
const IDLE_MS = 3_000;
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const QUERY = 'subscription { myGenerations { id status queuePosition } }';

const SERVICES = [
  { name: 'users', pkg: 'subgraphs/users', ready: 'users subgraph ready' },
  { name: 'memes', pkg: 'subgraphs/memes', ready: 'memes subgraph ready' },
  { name: 'ai', pkg: 'subgraphs/ai', ready: 'ai subgraph ready' },
  { name: 'router', pkg: 'router', ready: 'router ready' },
] as const;

const idle = () => new Promise((r) => setTimeout(r, IDLE_MS));

async function start(service: (typeof SERVICES)[number], env: NodeJS.ProcessEnv, inspect = false) {
  const child = spawn(
    process.execPath,
    [
      ...(inspect ? ['--inspect=127.0.0.1:0'] : []),
      '--import',
      'tsx',
      '--conditions=@memegraph/source',
      path.join(root, service.pkg, 'src', 'main.ts'),
    ],
    { cwd: root, env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // The inspector's address (for a full GC before each reading); the rest of stderr passes through.
  const inspector = new Promise<string>((resolve) =>
    createInterface({ input: child.stderr! }).on('line', (line) => {
      const found = /Debugger listening on (ws:\/\/\S+)/.exec(line);
      if (found) resolve(found[1]!);
      else if (!/^(For help|Debugger attached|Debugger ending)/.test(line)) process.stderr.write(`${line}\n`);
    }),
  );
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${service.name} exited with code ${code} while starting`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg === service.ready && entry.url) resolve(new URL(entry.url).origin);
    });
  });
  return { child, url, inspector: inspect ? await inspector : null };
}

/** A full garbage collection in the process behind `inspector` (Chrome DevTools Protocol), so heap and RSS are what is held. */
async function collectGarbage(inspector: string): Promise<void> {
  const socket = new WebSocket(inspector);
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  socket.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
  await new Promise((resolve) => socket.once('message', resolve));
  socket.close();
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

const rssMb = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;

async function metric(router: string, name: string, transport?: string): Promise<number> {
  const text = await (await fetch(`${router}/metrics`)).text();
  let total = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)`, 'gm'))) {
    if (transport && !m[1]?.includes(`transport="${transport}"`)) continue;
    total += Number(m[2]);
  }
  return total;
}

async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 100));
}

/** Opens an SSE stream and resolves once the router has answered with its headers. */
function openSse(router: string, token: string): Promise<http.ClientRequest> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ query: QUERY });
    const req = http.request(`${router}/graphql/stream`, {
      method: 'POST',
      agent: false,
      headers: {
        accept: 'text/event-stream',
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        authorization: `Bearer ${token}`,
      },
    });
    req.once('response', (res) => {
      if (res.statusCode !== 200) return reject(new Error(`SSE answered ${res.statusCode}`));
      res.resume();
      resolve(req);
    });
    req.once('error', reject);
    req.end(body);
  });
}

/** Opens a graphql-ws connection with one subscription. */
function openWs(router: string, token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${router.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    socket.once('error', reject);
    socket.once('open', () =>
      socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })),
    );
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string };
      if (message.type === 'connection_ack') {
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: QUERY } }));
        resolve(socket);
      }
    });
  });
}

/** Opens `count` at a time, `batch` in flight. */
async function openMany<T>(count: number, open: () => Promise<T>, batch = 200): Promise<T[]> {
  const opened: T[] = [];
  for (let i = 0; i < count; i += batch)
    opened.push(...(await Promise.all(Array.from({ length: Math.min(batch, count - i) }, open))));
  return opened;
}

const database = await createTestDatabase();
const prefix = `memegraph-streams:${randomBytes(4).toString('hex')}:`;
const common: NodeJS.ProcessEnv = {
  DATABASE_URL: database.url,
  REDIS_URL,
  REDIS_PREFIX: prefix,
  SUBGRAPH_SIGNING_SECRET: randomBytes(32).toString('base64url'),
  JWT_SECRET: randomBytes(32).toString('base64url'),
  AI_PROVIDERS: JSON.stringify([{ kind: 'local' }]),
  // Plans are bought from the local provider, as in tests: the viewer must hold Memes AI.
  BILLING_PROVIDER: 'local',
  SEED_USERS: '2',
  SEED_MEMES: '2',
};
const running: ChildProcess[] = [];
try {
  const urls: Record<string, string> = {};
  let routerPid = 0;
  let inspector = '';
  for (const service of SERVICES) {
    const env: NodeJS.ProcessEnv = { ...common };
    if (service.name === 'ai') env.MEMES_URL = urls.memes;
    if (service.name === 'router') {
      Object.assign(env, {
        SUBGRAPH_URL_USERS: `${urls.users}/graphql`,
        SUBGRAPH_URL_MEMES: `${urls.memes}/graphql`,
        SUBGRAPH_URL_AI: `${urls.ai}/graphql`,
        TIERS_JSON: JSON.stringify({ premium: { maxSubscriptions: 1_000_000, requestsPerMinute: 1_000_000 } }),
        SUBSCRIPTION_MAX_STREAMS: '1000000',
      });
    }
    const started = await start(service, env, service.name === 'router');
    running.push(started.child);
    urls[service.name] = started.url;
    if (service.name === 'router') {
      routerPid = started.child.pid!;
      inspector = started.inspector!;
    }
  }
  const router = urls.router!;
  const graphql = async (query: string, token?: string) =>
    (await (
      await fetch(`${router}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query }),
      })
    ).json()) as { data: Record<string, { token?: string }> | null };
  const token = (
    await graphql(`
      mutation {
        signUp(handle: "streams_bench", password: "such password very safe") {
          token
        }
      }
    `)
  ).data!.signUp!.token!;
  const plan = await graphql('mutation { subscribe(plan: PREMIUM) { status } }', token);
  if (!plan.data?.subscribe) throw new Error(`the viewer did not get Memes AI: ${JSON.stringify(plan)}`);

  await idle();
  await collectGarbage(inspector);
  const base = { rss: rssMb(routerPid), heap: (await metric(router, 'nodejs_heap_size_used_bytes')) / 2 ** 20 };
  const rows: string[] = [];
  for (const count of COUNTS) {
    for (const transport of ['sse', 'ws'] as const) {
      const t0 = performance.now();
      const opened =
        transport === 'sse'
          ? await openMany(count, () => openSse(router, token))
          : await openMany(count, () => openWs(router, token));
      await until(async () => (await metric(router, 'subscription_streams', transport)) === count);
      const openMs = performance.now() - t0;
      await idle();
      await collectGarbage(inspector);
      const rss = rssMb(routerPid);
      const heap = (await metric(router, 'nodejs_heap_size_used_bytes')) / 2 ** 20;
      rows.push(
        `| ${transport} | ${count} | ${(openMs / 1000).toFixed(1)} | ${rss.toFixed(0)} | ${heap.toFixed(0)} | ${(((rss - base.rss) / count) * 1000).toFixed(1)} | ${(((heap - base.heap) / count) * 1000).toFixed(1)} |`,
      );
      console.error(`${transport} ${count} measured`);
      for (const stream of opened) (stream as { destroy?: () => void; terminate?: () => void }).destroy?.();
      for (const stream of opened) (stream as { terminate?: () => void }).terminate?.();
      await until(async () => (await metric(router, 'subscription_streams')) === 0);
    }
  }
  console.log(
    `\nRouter (tsx sources, Node ${process.version}): ${base.rss.toFixed(0)} MB RSS, ${base.heap.toFixed(0)} MB heap with no stream open.\n`,
  );
  console.log(
    '| transport | open streams | opened in (s) | RSS (MB) | heap used (MB) | RSS per 1,000 (MB) | heap per 1,000 (MB) |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) console.log(row);
} finally {
  await Promise.all(running.reverse().map((child) => stop(child)));
  await database.drop();
  const redis = new Redis(REDIS_URL);
  await dropKeys(redis, prefix);
  await redis.quit();
}
