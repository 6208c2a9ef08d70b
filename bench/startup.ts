/**
 * `npm run bench:startup [-- --rounds 3]`: start time and idle memory of each
 * service, run from its TypeScript sources through tsx (as before the build,
 * and as `npm run dev` does) and from its build with node (as `npm start` and
 * the image do), in the same run, in alternating rounds.
 *
 * Each round starts users, memes, ai, the AI worker and the router one after
 * the other on port 0 against a database and Redis prefix of the run's own
 * (migrated first, so no service migrates), and measures for each process:
 * - start: from spawn to the first 200 from its /ready (the worker, which has
 *   no HTTP server, to its "ai worker ready" log line);
 * - idle RSS: VmRSS from /proc once all five are up and have sat idle for
 *   IDLE_MS.
 * The medians of the rounds are printed as a Markdown table.
 *
 * Needs `npm run build` first, PostgreSQL (TEST_DATABASE_URL, an admin
 * connection) and Redis (BENCH_REDIS_URL).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createTestDatabase } from '../test/support/database';

const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' } } });
const ROUNDS = Number(values.rounds);
const IDLE_MS = 3_000;
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

type Mode = 'tsx' | 'node';
const SERVICES = [
  { name: 'users', pkg: 'subgraphs/users', main: 'main', ready: 'users subgraph ready' },
  { name: 'memes', pkg: 'subgraphs/memes', main: 'main', ready: 'memes subgraph ready' },
  { name: 'ai', pkg: 'subgraphs/ai', main: 'main', ready: 'ai subgraph ready' },
  { name: 'ai-worker', pkg: 'subgraphs/ai', main: 'worker-main', ready: 'ai worker ready' },
  { name: 'router', pkg: 'router', main: 'main', ready: 'router ready' },
] as const;
type ServiceName = (typeof SERVICES)[number]['name'];

function commandOf(mode: Mode, pkg: string, main: string): string[] {
  return mode === 'node'
    ? ['--enable-source-maps', path.join(root, pkg, 'dist', `${main}.js`)]
    : ['--import', 'tsx', '--conditions=@memegraph/source', path.join(root, pkg, 'src', `${main}.ts`)];
}

const rssOf = (pid: number) => {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line?.match(/(\d+)/)?.[1] ?? NaN) / 1024;
};

interface Started {
  child: ChildProcess;
  startMs: number;
}

/** Spawns a service and resolves once it is ready, with the time that took. */
async function start(
  mode: Mode,
  service: (typeof SERVICES)[number],
  env: NodeJS.ProcessEnv,
): Promise<Started & { url: string | null }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, commandOf(mode, service.pkg, service.main), {
    cwd: root,
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string | null>((resolve, reject) => {
    child.once('exit', (code) =>
      reject(new Error(`${service.name} (${mode}) exited with code ${code} while starting`)),
    );
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg === service.ready) resolve(entry.url ? new URL(entry.url).origin : null);
    });
  });
  if (url) {
    for (;;) {
      const ok = await fetch(`${url}/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  return { child, url, startMs: performance.now() - t0 };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function round(
  mode: Mode,
  common: NodeJS.ProcessEnv,
): Promise<Record<ServiceName, { startMs: number; rssMb: number }>> {
  const running = new Map<ServiceName, Started>();
  const urls: Partial<Record<ServiceName, string>> = {};
  try {
    for (const service of SERVICES) {
      const env: NodeJS.ProcessEnv = { ...common };
      if (service.name === 'ai' || service.name === 'ai-worker') env.MEMES_URL = urls.memes;
      if (service.name === 'router') {
        env.SUBGRAPH_URL_USERS = `${urls.users}/graphql`;
        env.SUBGRAPH_URL_MEMES = `${urls.memes}/graphql`;
        env.SUBGRAPH_URL_AI = `${urls.ai}/graphql`;
      }
      const started = await start(mode, service, env);
      running.set(service.name, started);
      if (started.url) urls[service.name] = started.url;
    }
    // Idle: what a replica holds between requests (a measurement window, not a synchronization).
    await new Promise((r) => setTimeout(r, IDLE_MS));
    return Object.fromEntries(
      [...running].map(([name, s]) => [name, { startMs: s.startMs, rssMb: rssOf(s.child.pid!) }]),
    ) as Record<ServiceName, { startMs: number; rssMb: number }>;
  } finally {
    await Promise.all([...running.values()].map((s) => stop(s.child)));
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

for (const service of SERVICES) {
  if (!existsSync(path.join(root, service.pkg, 'dist', `${service.main}.js`))) {
    console.error('bench:startup: run `npm run build` first');
    process.exit(1);
  }
}

const database = await createTestDatabase();
const common: NodeJS.ProcessEnv = {
  DATABASE_URL: database.url,
  REDIS_URL,
  REDIS_PREFIX: `memegraph-startup:${randomBytes(4).toString('hex')}:`,
  SUBGRAPH_SIGNING_SECRET: randomBytes(32).toString('base64url'),
  JWT_SECRET: randomBytes(32).toString('base64url'),
  MIGRATE_ON_START: 'false',
  AI_PROVIDERS: JSON.stringify([{ kind: 'local' }]),
  NODE_ENV: 'production',
};

try {
  const migrated = spawnSync(process.execPath, [path.join(root, 'scripts', 'dist', 'migrate.js')], {
    env: { ...process.env, ...common },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (migrated.status !== 0) throw new Error('migrate failed');
  const results: Record<Mode, Record<ServiceName, { startMs: number; rssMb: number }>[]> = { tsx: [], node: [] };
  for (let i = 0; i < ROUNDS; i++) {
    // Alternate which goes first, so neither always meets a cold disk cache.
    for (const mode of (i % 2 ? ['node', 'tsx'] : ['tsx', 'node']) as Mode[]) {
      results[mode].push(await round(mode, common));
      console.error(`round ${i + 1}/${ROUNDS} ${mode} done`);
    }
  }
  const stat = (mode: Mode, name: ServiceName, key: 'startMs' | 'rssMb') =>
    median(results[mode].map((r) => r[name][key]));
  console.log(`\nMedians of ${ROUNDS} rounds (Node ${process.version}, ${IDLE_MS / 1000} s idle before RSS):\n`);
  console.log(
    '| process | start to /ready, tsx (ms) | start to /ready, node dist (ms) | idle RSS, tsx (MB) | idle RSS, node dist (MB) |',
  );
  console.log('|---|---:|---:|---:|---:|');
  for (const { name } of SERVICES) {
    const f = (n: number) => n.toFixed(0);
    console.log(
      `| ${name} | ${f(stat('tsx', name, 'startMs'))} | ${f(stat('node', name, 'startMs'))} | ${f(stat('tsx', name, 'rssMb'))} | ${f(stat('node', name, 'rssMb'))} |`,
    );
  }
} finally {
  await database.drop();
  const redis = new Redis(REDIS_URL);
  for (let cursor = '0'; ;) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${common.REDIS_PREFIX}*`, 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    if ((cursor = next) === '0') break;
  }
  await redis.quit();
}
