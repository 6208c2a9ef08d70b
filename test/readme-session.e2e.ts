import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from './support/redis';

/*
 * The README's first session, run as a reader would run it: every command of
 * its `sh readme-session` block, one after the other in bash, against
 * `npm start` on a fresh data directory with nothing configured. Only the
 * port differs (the README's localhost:4000 becomes a free one).
 */

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** The marked block's commands: one per logical line (backslash continuations joined), comments and blank lines dropped. */
export function sessionCommands(markdown: string): string[] {
  const blocks = [...markdown.matchAll(/^```sh readme-session\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
  const commands: string[] = [];
  let current = '';
  for (const line of blocks.join('\n').split('\n')) {
    if (!current && (line.trim() === '' || line.trimStart().startsWith('#'))) continue;
    current += (current ? '\n' : '') + line;
    if (!line.endsWith('\\')) {
      commands.push(current);
      current = '';
    }
  }
  if (current) commands.push(current);
  return commands;
}

interface Ran {
  command: string;
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs each command in a bash of its own, as pasted into one shell: the
 * variables a command assigns (TOKEN=…) are handed to the ones after it.
 */
function runSession(commands: string[], stateFile: string, env: NodeJS.ProcessEnv): Ran[] {
  const names: string[] = [];
  const ran: Ran[] = [];
  writeFileSync(stateFile, '');
  for (const command of commands) {
    const assigned = /^([A-Z_][A-Z0-9_]*)=/.exec(command)?.[1];
    if (assigned && !names.includes(assigned)) names.push(assigned);
    const script = [
      'set -o pipefail',
      `. ${JSON.stringify(stateFile)}`,
      command,
      'rc=$?',
      `{ for v in ${names.join(' ') || ':'}; do [ -n "\${!v+x}" ] && printf 'export %s=%q\\n' "$v" "\${!v}"; done; } > ${JSON.stringify(stateFile)}`,
      'exit $rc',
    ].join('\n');
    const result = spawnSync('bash', ['-c', script], { env, encoding: 'utf8', timeout: 60_000 });
    ran.push({ command, status: result.status, stdout: result.stdout, stderr: result.stderr });
    if (result.status !== 0) break;
  }
  return ran;
}

let platform: ChildProcess | undefined;
let port = 0;
let workDir = '';
let startLog = '';

beforeAll(async () => {
  workDir = mkdtempSync(path.join(tmpdir(), 'memegraph-readme-'));
  const [router, users, memes, ai] = await freePorts(4);
  port = router!;
  // Nothing of the test's own environment (the source condition, NODE_ENV, a DATABASE_URL or REDIS_URL):
  // a fresh start on the embedded defaults, as on a newcomer's machine.
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: String(router),
    USERS_PORT: String(users),
    MEMES_PORT: String(memes),
    AI_PORT: String(ai),
    DATA_DIR: path.join(workDir, 'data'),
    // The session uses the API only; test/browser/gallery.e2e.ts builds and drives the gallery.
    GALLERY_DIR: path.join(workDir, 'gallery'),
  };
  platform = spawn('npm', ['start'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    const watch = (chunk: Buffer) => {
      startLog += chunk.toString();
      if (startLog.includes('Memegraph is up')) resolve();
    };
    platform!.stdout!.on('data', watch);
    platform!.stderr!.on('data', (chunk: Buffer) => (startLog += chunk.toString()));
    platform!.once('exit', (code) => reject(new Error(`npm start exited (${code}):\n${startLog.slice(-4000)}`)));
  });
  // `npm start` builds what is stale before it starts (in CI, where nothing is built yet, every service), then seeds
  // the embedded databases: a build of every service, start and seed took under 45 s here, 98 s beside other work.
}, 420_000);

afterAll(async () => {
  if (platform?.pid && platform.exitCode === null) {
    const exited = new Promise((resolve) => platform!.once('exit', resolve));
    process.kill(-platform.pid, 'SIGTERM');
    await exited;
  }
  if (workDir) rmSync(workDir, { recursive: true, force: true });
}, 30_000);

describe("the README's first session", () => {
  it('is one marked block of commands that names localhost:4000 once', () => {
    const commands = sessionCommands(README);
    expect(commands.length).toBeGreaterThanOrEqual(10);
    expect(commands.join('\n').match(/localhost:4000/g)).toHaveLength(1);
  });

  it('runs command by command on a fresh `npm start`: every answer has data and no error, and the generation it started finishes', async () => {
    const commands = sessionCommands(README).map((c) => c.replace('localhost:4000', `localhost:${port}`));
    const ran = runSession(commands, path.join(workDir, 'session-state.sh'), {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
    });
    for (const step of ran) {
      expect(step.status, `${step.command}\n${step.stderr}${step.stdout}`).toBe(0);
      if (step.stdout.trim() === '') continue;
      const answer = JSON.parse(step.stdout) as { data?: unknown; errors?: unknown };
      expect(answer.errors, step.command).toBeUndefined();
      expect(answer.data, step.command).toBeTruthy();
    }
    expect(ran).toHaveLength(commands.length);

    const answers = ran
      .filter((step) => step.stdout.trim() !== '')
      .map((step) => (JSON.parse(step.stdout) as { data: Record<string, unknown> }).data);
    const find = <T>(field: string) => answers.find((data) => field in data)?.[field] as T;
    expect(find<{ handle: string; tier: string }>('me')).toMatchObject({ handle: 'me_and_doge', tier: 'FREE' });
    expect(find<{ viewerVote: number }>('vote').viewerVote).toBe(1);
    // npm start's built-in payment provider completes the checkout at once.
    expect(find<{ status: string; subscription: unknown }>('subscribe')).toMatchObject({
      status: 'COMPLETED',
      subscription: { plan: 'PREMIUM', status: 'ACTIVE' },
    });
    const generation = find<{ status: string; meme: { topText: string; imageUrl: string } }>('generation');
    expect(generation.status).toBe('SUCCEEDED');
    expect(generation.meme.topText).toBe('when the tests pass');
    // The finished meme's image is there to fetch.
    const image = await fetch(generation.meme.imageUrl);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
  });
});
