/**
 * `npm start`: the whole platform on one machine — the three subgraphs and
 * the router, each in its own process, on embedded defaults (PGlite under
 * .data/) unless DATABASE_URL is set. First start seeds a demo catalog and
 * builds the gallery app, which the router serves at `/`.
 *
 * The services run as built JavaScript (`node <package>/dist/main.js`;
 * scripts/launch.mjs builds them first when the build is missing or stale).
 * `npm run dev` (`--dev`) runs their TypeScript sources instead, each
 * restarted when a file it loads changes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { routerNodeOptions } from '@memegraph/router/heap';

// This file runs from scripts/ (tsx) and, built, from scripts/dist/.
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, path.basename(here) === 'dist' ? '../..' : '..');
const dev = process.argv.includes('--dev');
const dataDir = path.resolve(root, process.env.DATA_DIR ?? '.data');
const env = process.env;

/** Secrets for local runs are made once and kept in .data/, so sessions survive restarts. */
function localSecrets(): { signing: string; jwt: string } {
  if (env.SUBGRAPH_SIGNING_SECRET && env.JWT_SECRET)
    return { signing: env.SUBGRAPH_SIGNING_SECRET, jwt: env.JWT_SECRET };
  const file = path.join(dataDir, 'local-secrets.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as { signing: string; jwt: string };
  mkdirSync(dataDir, { recursive: true });
  const secrets = { signing: randomBytes(32).toString('base64url'), jwt: randomBytes(32).toString('base64url') };
  writeFileSync(file, JSON.stringify(secrets), { mode: 0o600 });
  return secrets;
}

/** The newest modification time under `dir` (tests excluded: they do not change the build). */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(file));
    else if (!/\.test\.tsx?$/.test(entry.name)) newest = Math.max(newest, statSync(file).mtimeMs);
  }
  return newest;
}

/**
 * Builds the gallery when its build is missing or older than its sources.
 * A failed build is reported, not fatal: the API runs without the app.
 */
async function buildGallery(): Promise<void> {
  const gallery = path.join(root, 'gallery');
  const built = path.join(gallery, 'dist', 'index.html');
  const sources = [
    path.join(gallery, 'src'),
    ...['index.html', 'vite.config.ts', 'package.json', 'persisted-query-manifest.json'].map((f) =>
      path.join(gallery, f),
    ),
  ];
  const newest = Math.max(
    ...sources
      .filter((s) => existsSync(s))
      .map((s) => (statSync(s).isDirectory() ? newestSource(s) : statSync(s).mtimeMs)),
  );
  if (existsSync(built) && statSync(built).mtimeMs >= newest) return;
  console.log('memegraph: building the gallery app');
  const code = await new Promise<number | null>((resolve) => {
    // A NODE_ENV of development or test in the caller's shell would make Vite bundle React's development build.
    const build = spawn('npm', ['run', 'build', '-w', '@memegraph/gallery'], {
      cwd: root,
      env: { ...env, NODE_ENV: 'production' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    build.once('error', () => resolve(null));
    build.once('exit', resolve);
  });
  if (code !== 0)
    console.error(
      `memegraph: the gallery build failed (${code === null ? 'npm did not start' : `exit code ${code}`}); serving the API without it`,
    );
}

const secrets = localSecrets();
const port = (name: string, fallback: number) => Number(env[name] ?? fallback);
const ports = {
  router: port('PORT', 4000),
  users: port('USERS_PORT', 4001),
  memes: port('MEMES_PORT', 4002),
  ai: port('AI_PORT', 4003),
};
const local = (p: number) => `http://127.0.0.1:${p}`;
const publicUrl = env.PUBLIC_URL ?? `http://localhost:${ports.router}`;
const seedUsers = env.SEED_USERS ?? '200';
const seedMemes = env.SEED_MEMES ?? '2000';

const common = {
  ...env,
  SUBGRAPH_SIGNING_SECRET: secrets.signing,
  JWT_SECRET: secrets.jwt,
};

/** Loaded before a service's modules: starts tracing when OTEL_* settings ask for it (docs/tracing.md). */
const TRACING = ['--import', '@memegraph/service-kit/tracing-preload'];

/** How node runs a service: its build, or (dev) its sources through tsx, restarted on change. */
function entry(pkg: string, main: string, nodeOptions: string[] = []): string[] {
  if (!dev) return ['--enable-source-maps', ...nodeOptions, ...TRACING, path.join(root, pkg, 'dist', `${main}.js`)];
  return [
    '--watch',
    '--import',
    'tsx',
    '--conditions=@memegraph/source',
    ...TRACING,
    path.join(root, pkg, 'src', `${main}.ts`),
  ];
}

const services: { name: string; entry: string[]; env: NodeJS.ProcessEnv; port: number }[] = [
  {
    name: 'users',
    entry: entry('subgraphs/users', 'main'),
    port: ports.users,
    env: {
      ...common,
      PORT: String(ports.users),
      DATA_DIR: path.join(dataDir, 'users'),
      SEED_USERS: seedUsers,
      // On a laptop, paid plans are paid at once by the built-in provider (docs/billing.md).
      BILLING_PROVIDER: env.BILLING_PROVIDER || 'local',
    },
  },
  {
    name: 'memes',
    entry: entry('subgraphs/memes', 'main'),
    port: ports.memes,
    env: {
      ...common,
      PORT: String(ports.memes),
      DATA_DIR: path.join(dataDir, 'memes'),
      PUBLIC_URL: publicUrl,
      SEED_USERS: seedUsers,
      SEED_MEMES: seedMemes,
    },
  },
  {
    name: 'ai',
    entry: entry('subgraphs/ai', 'main'),
    port: ports.ai,
    env: { ...common, PORT: String(ports.ai), DATA_DIR: path.join(dataDir, 'ai'), MEMES_URL: local(ports.memes) },
  },
  // With Redis and PostgreSQL, AI jobs run in a worker process of their own; otherwise the ai subgraph runs them.
  ...((env.REDIS_URL || env.REDIS_CLUSTER_NODES) && env.DATABASE_URL
    ? [
        {
          name: 'ai-worker',
          entry: entry('subgraphs/ai', 'worker-main'),
          port: 0,
          env: { ...common, MEMES_URL: local(ports.memes) },
        },
      ]
    : []),
  {
    name: 'router',
    entry: entry('router', 'main', routerNodeOptions()),
    port: ports.router,
    env: {
      ...common,
      PORT: String(ports.router),
      SUBGRAPH_URL_USERS: `${local(ports.users)}/graphql`,
      SUBGRAPH_URL_MEMES: `${local(ports.memes)}/graphql`,
      SUBGRAPH_URL_AI: `${local(ports.ai)}/graphql`,
      // The gallery runs on its manifest alone; other clients keep the tier's mode.
      TRUSTED_DOCUMENTS_MANIFEST:
        env.TRUSTED_DOCUMENTS_MANIFEST || path.join(root, 'gallery', 'persisted-query-manifest.json'),
      TRUSTED_DOCUMENTS_MODE_BY_CLIENT: env.TRUSTED_DOCUMENTS_MODE_BY_CLIENT || '{"memegraph-gallery":"enforce"}',
    },
  },
];

const children: ChildProcess[] = [];
let stopping = false;

function stopAll(code: number): void {
  if (stopping) return;
  stopping = true;
  for (const child of children) child.kill('SIGTERM');
  const deadline = setTimeout(() => process.exit(code), 10_000);
  deadline.unref();
  Promise.all(
    children.map((child) => (child.exitCode === null ? new Promise((r) => child.once('exit', r)) : null)),
  ).then(() => process.exit(code));
}

async function waitForHealth(name: string, p: number, child: ChildProcess): Promise<void> {
  // Embedded PostgreSQL and the first seed take a few seconds; give up after two minutes.
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode} while starting`);
    const ok = await fetch(`${local(p)}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${name} did not become healthy on port ${p}`);
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => stopAll(0));

try {
  // A GALLERY_DIR of the operator's own is served as it is.
  if (!env.GALLERY_DIR) await buildGallery();
  for (const service of services) {
    const child = spawn(process.execPath, service.entry, {
      cwd: root,
      env: service.env,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    children.push(child);
    child.once('exit', (code, signal) => {
      if (stopping) return;
      console.error(`memegraph: ${service.name} stopped (${signal ?? `code ${code}`}); stopping everything`);
      stopAll(1);
    });
    // The worker serves no HTTP; it is up once it runs.
    if (service.port > 0) await waitForHealth(service.name, service.port, child);
  }
  const database = env.DATABASE_URL ? 'PostgreSQL' : `embedded, in ${dataDir}`;
  console.log(
    `\nMemegraph is up: ${publicUrl}/ (gallery)  ${publicUrl}/graphql (API and explorer)  ${publicUrl}/status  (database: ${database})\n`,
  );
} catch (error) {
  console.error(`memegraph: ${(error as Error).message}`);
  stopAll(1);
}
