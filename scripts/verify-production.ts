/**
 * `npm run verify:production` (CI runs it after `npm test`): proves on a clean
 * copy of the repository that the production install and the image's contents
 * run the platform, where no Docker daemon is.
 *
 * 1. Copies the repository's HEAD (`git archive`; `--worktree`: the tracked
 *    files as they are in the working tree) into a temporary directory.
 * 2. Runs deploy/image/build.sh there, as the Dockerfile's build stage does:
 *    `npm ci`, `npm run build`, `npm ci --omit=dev`, and the image's files
 *    copied apart.
 * 3. On the production install: `npm run migrate`, then `npm start` with
 *    MIGRATE_ON_START=false against a fresh PostgreSQL database and a Redis
 *    prefix of its own; one cross-subgraph query through the router.
 * 4. On the image's files: each service through deploy/image/entrypoint.sh
 *    (migrate, users, memes, ai, ai-worker, router), the same query, the
 *    gallery and the explorer.
 * Everything started is stopped with SIGTERM and must exit cleanly; the
 * database, the Redis keys and the copy are removed.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createTestDatabase } from '../test/support/database';

const { values: options } = parseArgs({
  options: { worktree: { type: 'boolean', default: false }, keep: { type: 'boolean', default: false } },
});
const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const READY_WITHIN_MS = 120_000;

const step = (what: string) => console.log(`\nverify-production: ${what}`);
function run(command: string, args: string[], opts: SpawnSyncOptions): void {
  const result = spawnSync(command, args, { stdio: 'inherit', ...opts });
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(' ')} failed (${result.error?.message ?? `exit code ${result.status}`})`);
}

/** A port free now, for `npm start`, which takes fixed ports. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function eventually<T>(what: string, probe: () => Promise<T | null>, exited: () => string | null): Promise<T> {
  const deadline = Date.now() + READY_WITHIN_MS;
  while (Date.now() < deadline) {
    const gone = exited();
    if (gone) throw new Error(`${what}: ${gone}`);
    const value = await probe().catch(() => null);
    if (value !== null) return value;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: not within ${READY_WITHIN_MS / 1000} s`);
}

/** The router's /ready once every subgraph is up. */
async function routerReady(url: string): Promise<true | null> {
  const response = await fetch(`${url}/ready`);
  const body = (await response.json()) as { status?: string };
  return response.ok && body.status === 'ready' ? true : null;
}

/** Trending memes (memes subgraph) with their authors (users subgraph), anonymously through the router. */
async function crossSubgraphQuery(url: string): Promise<void> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ trending(first: 3) { id title author { handle } } }' }),
  });
  const body = (await response.json()) as {
    data?: { trending: { title: string; author: { handle: string } | null }[] };
    errors?: unknown[];
  };
  const memes = body.data?.trending ?? [];
  if (response.status !== 200 || body.errors || memes.length !== 3 || memes.some((m) => !m.author?.handle)) {
    throw new Error(`the cross-subgraph query failed: HTTP ${response.status} ${JSON.stringify(body)}`);
  }
  console.log(
    `verify-production: ${url}/graphql answered ${memes.map((m) => `"${m.title}" by ${m.author!.handle}`).join(', ')}`,
  );
}

async function expectPage(url: string, accept: string, contains: string): Promise<void> {
  const response = await fetch(url, { headers: { accept } });
  const text = await response.text();
  if (response.status !== 200 || !text.includes(contains))
    throw new Error(`GET ${url}: HTTP ${response.status}, no ${contains}`);
}

/**
 * Stops a process with SIGTERM and expects a clean exit. A group (npm, its
 * shell, the launcher and the services) gets the signal all at once, as from a
 * terminal's Ctrl-C; npm itself may then end by the signal.
 */
async function stop(name: string, child: ChildProcess, group = false): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null)
    throw new Error(`${name} had already exited (${child.exitCode ?? child.signalCode})`);
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('exit', (code, signal) => resolve([code, signal])),
  );
  if (group) process.kill(-child.pid!, 'SIGTERM');
  else child.kill('SIGTERM');
  const [code, signal] = await exited;
  if (code !== 0 && !(group && signal === 'SIGTERM'))
    throw new Error(`${name} exited with ${code ?? signal} after SIGTERM`);
}

const work = mkdtempSync(path.join(tmpdir(), 'memegraph-verify-'));
const src = path.join(work, 'src');
const app = path.join(work, 'app');
const database = await createTestDatabase();
const prefix = `memegraph-verify:${randomBytes(4).toString('hex')}:`;
const running: { name: string; child: ChildProcess; group: boolean }[] = [];
// The caller's NODE_OPTIONS may select the sources (vitest sets --conditions=@memegraph/source): not here.
const { NODE_OPTIONS: _nodeOptions, ...callerEnv } = process.env;
const platformEnv: NodeJS.ProcessEnv = {
  ...callerEnv,
  NODE_ENV: 'production',
  DATABASE_URL: database.url,
  REDIS_URL,
  REDIS_PREFIX: prefix,
  SUBGRAPH_SIGNING_SECRET: randomBytes(32).toString('base64url'),
  JWT_SECRET: randomBytes(32).toString('base64url'),
  MIGRATE_ON_START: 'false',
  SEED_USERS: '20',
  SEED_MEMES: '30',
  AI_PROVIDERS: JSON.stringify([{ kind: 'local' }]),
  LOG_LEVEL: 'warn',
};

try {
  step(`a clean copy of ${options.worktree ? 'the working tree' : 'HEAD'} in ${src}`);
  mkdirSync(src);
  const files = options.worktree
    ? `git ls-files -z --cached | xargs -0 -I{} sh -c 'test -e "{}" && printf "%s\\0" "{}"' | tar --null -T - -cf -`
    : 'git archive --format=tar HEAD';
  run('bash', ['-o', 'pipefail', '-c', `${files} | tar -xf - -C '${src}'`], { cwd: root });

  step('deploy/image/build.sh: npm ci, npm run build, npm ci --omit=dev, the image files');
  run('bash', [path.join(src, 'deploy/image/build.sh'), src, app], { cwd: src, env: callerEnv });

  step('production install: npm run migrate');
  run('npm', ['run', 'migrate'], { cwd: src, env: platformEnv });
  const db = new pg.Client({ connectionString: database.url });
  await db.connect();
  try {
    for (const schema of ['users', 'memes', 'ai']) {
      const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.schema_migrations`);
      console.log(`verify-production: ${schema}: ${rows[0]!.n} migrations applied`);
    }
  } finally {
    await db.end();
  }

  step('production install: npm start (MIGRATE_ON_START=false)');
  const ports = {
    PORT: await freePort(),
    USERS_PORT: await freePort(),
    MEMES_PORT: await freePort(),
    AI_PORT: await freePort(),
  };
  const launcher = spawn('npm', ['start'], {
    cwd: src,
    env: {
      ...platformEnv,
      ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
      DATA_DIR: path.join(work, 'data'),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
    // A group of its own, so that SIGTERM reaches the launcher under npm and sh.
    detached: true,
  });
  running.push({ name: 'npm start', child: launcher, group: true });
  const routerUrl = `http://127.0.0.1:${ports.PORT}`;
  await eventually(
    'npm start',
    () => routerReady(routerUrl),
    () => (launcher.exitCode !== null ? `exited with code ${launcher.exitCode}` : null),
  );
  await crossSubgraphQuery(routerUrl);
  await stop('npm start', launcher, true);
  running.pop();

  step('image files: entrypoint.sh migrate (again: nothing to apply), then each service');
  const entry = path.join(app, 'deploy/image/entrypoint.sh');
  run(entry, ['migrate'], { cwd: tmpdir(), env: platformEnv });
  const urls: Record<string, string> = {};
  const startService = async (name: string, ready: string, env: NodeJS.ProcessEnv): Promise<void> => {
    const child = spawn(entry, [name], {
      cwd: tmpdir(),
      env: { ...platformEnv, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    running.push({ name, child, group: false });
    let url: string | null = null;
    let up = false;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return console.log(line);
      const entry = JSON.parse(line) as { msg?: string; url?: string; level?: number };
      if (entry.msg === ready) [up, url] = [true, entry.url ? new URL(entry.url).origin : null];
      else if ((entry.level ?? 0) >= 40) console.log(line);
    });
    await eventually(
      name,
      async () => (up ? true : null),
      () => (child.exitCode !== null ? `exited with code ${child.exitCode}` : null),
    );
    if (url) urls[name] = url;
  };
  await startService('users', 'users subgraph ready', {});
  await startService('memes', 'memes subgraph ready', {});
  await startService('ai', 'ai subgraph ready', { MEMES_URL: urls.memes });
  await startService('ai-worker', 'ai worker ready', { MEMES_URL: urls.memes });
  await startService('router', 'router ready', {
    SUBGRAPH_URL_USERS: `${urls.users}/graphql`,
    SUBGRAPH_URL_MEMES: `${urls.memes}/graphql`,
    SUBGRAPH_URL_AI: `${urls.ai}/graphql`,
    TRUSTED_DOCUMENTS_MANIFEST: path.join(app, 'gallery/persisted-query-manifest.json'),
  });
  await eventually(
    'router',
    () => routerReady(urls.router!),
    () => null,
  );
  await crossSubgraphQuery(urls.router!);
  await expectPage(`${urls.router}/`, 'text/html', '<div id="root">');
  await expectPage(`${urls.router}/graphql`, 'text/html', 'graphiql');
  for (const { name, child } of running.reverse().splice(0)) await stop(name, child);
  step('passed');
} finally {
  for (const { child, group } of running) {
    if (child.exitCode === null && child.signalCode === null) {
      if (group) process.kill(-child.pid!, 'SIGKILL');
      else child.kill('SIGKILL');
    }
  }
  await database.drop();
  const redis = new Redis(REDIS_URL);
  for (let cursor = '0'; ;) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    if ((cursor = next) === '0') break;
  }
  await redis.quit();
  if (options.keep) console.log(`verify-production: kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
