import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './support/accounts';
import { startRouterProcess, type RouterProcess } from './support/routerProcess';
import { startStack, type Stack } from './support/stack';

const PER_MINUTE = 40;

let stack: Stack;
let primary: RouterProcess;

/** One POST on a connection of its own, so the primary hands each to whichever process is next. */
function post(url: string, query: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ query });
    const req = http.request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  stack = await startStack({ users: 5, memes: 20 });
  // Two router processes sharing one port.
  primary = await startRouterProcess(
    {
      ...stack.routerEnv,
      TIERS_JSON: JSON.stringify({ anonymous: { requestsPerMinute: PER_MINUTE } }),
      WEB_CONCURRENCY: '2',
    },
    2,
  );
});
afterAll(async () => {
  primary?.kill();
  await stack?.close();
});

describe('WEB_CONCURRENCY=2', () => {
  it('runs two router processes on one port that share limits through Redis, replaces one that dies, and drains both on SIGTERM', async () => {
    const { lines, ready } = primary;
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
    primary.child.kill('SIGTERM');
    expect(await primary.exited).toBe(0);
    expect(
      lines
        .filter((l) => l.msg === 'stopped')
        .map((l) => l.pid)
        .sort(),
    ).toEqual([second!.pid, replacement.pid].sort());
    await expect(fetch(url.replace(/\/graphql$/, '/health'))).rejects.toThrow();
  });
});
