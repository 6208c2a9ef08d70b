import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './support/accounts';
import { startStack, type Stack } from './support/stack';

const ROUTER_MAIN = fileURLToPath(new URL('../router/src/main.ts', import.meta.url));
const PER_MINUTE = 40;

interface LogLine {
  pid: number;
  msg: string;
  url?: string;
  status?: number;
}

let stack: Stack;
let primary: ChildProcess;
const lines: LogLine[] = [];

/** One POST on a connection of its own, so the primary hands each to whichever process is next. */
function post(url: string, query: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ query });
    const req = http.request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', reject);
    req.end(body);
  });
}

const ready = () => lines.filter((l) => l.msg === 'router ready');

beforeAll(async () => {
  stack = await startStack({ users: 5, memes: 20 });
  // The real entry point, as `npm start` runs it, with two router processes sharing one port.
  primary = spawn(process.execPath, ['--import', 'tsx', ROUTER_MAIN], {
    env: {
      ...process.env,
      ...stack.routerEnv,
      TIERS_JSON: JSON.stringify({ anonymous: { requestsPerMinute: PER_MINUTE } }),
      PORT: '0',
      WEB_CONCURRENCY: '2',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  createInterface({ input: primary.stdout! }).on('line', (line) => {
    if (line.startsWith('{')) lines.push(JSON.parse(line) as LogLine);
  });
  await eventually(async () => ready().length >= 2, 30_000, 50);
});
afterAll(async () => {
  if (primary?.exitCode === null) primary.kill('SIGKILL');
  await stack?.close();
});

describe('WEB_CONCURRENCY=2', () => {
  it('runs two router processes on one port that share limits through Redis, replaces one that dies, and drains both on SIGTERM', async () => {
    const [first, second] = ready();
    // In a cluster, listen(0) gives every process the same port.
    expect(first!.url).toBe(second!.url);
    expect(first!.pid).not.toBe(second!.pid);
    const url = first!.url!;

    // Both processes answer, and the request limit counts across them (one Redis).
    const statuses: number[] = [];
    for (let i = 0; i < PER_MINUTE + 1; i++) statuses.push(await post(url, '{ plans { tier } }'));
    expect(statuses.slice(0, PER_MINUTE).every((s) => s === 200)).toBe(true);
    expect(statuses[PER_MINUTE]).toBe(429);
    await eventually(async () => lines.filter((l) => l.msg === 'request').length >= PER_MINUTE + 1, 5_000);
    const servedBy = new Set(lines.filter((l) => l.msg === 'request').map((l) => l.pid));
    expect(servedBy).toEqual(new Set([first!.pid, second!.pid]));

    // A process that dies is replaced, and the port keeps answering meanwhile.
    process.kill(first!.pid, 'SIGKILL');
    await eventually(async () => ready().length >= 3, 30_000, 50);
    const replacement = ready()[2]!;
    expect([first!.pid, second!.pid]).not.toContain(replacement.pid);
    expect(replacement.url).toBe(url);
    const health = await fetch(url.replace(/\/graphql$/, '/health'));
    expect(health.status).toBe(200);

    // SIGTERM to the primary: every process drains and the whole thing exits cleanly.
    const exited = new Promise<number | null>((resolve) => primary.once('exit', (code) => resolve(code)));
    primary.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(lines.filter((l) => l.msg === 'stopped').map((l) => l.pid).sort()).toEqual([second!.pid, replacement.pid].sort());
    await expect(fetch(url.replace(/\/graphql$/, '/health'))).rejects.toThrow();
  });
});
