import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './support/accounts';
import { routerClient } from './support/client';
import { freePorts } from './support/redis';
import { startStack, type Stack } from './support/stack';

let stack: Stack;
let redis: ChildProcess | undefined;
let port: number;

async function startRedis(): Promise<void> {
  redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  await eventually(
    async () => {
      const r = spawn('redis-cli', ['-p', String(port), 'ping'], { stdio: 'ignore' });
      return new Promise<boolean>((resolve) => r.once('exit', (code) => resolve(code === 0)));
    },
    5000,
    50,
  );
}

async function stopRedis(): Promise<void> {
  if (!redis) return;
  const exited = new Promise((r) => redis!.once('exit', r));
  redis.kill('SIGKILL');
  await exited;
  redis = undefined;
}

beforeAll(async () => {
  port = (await freePorts(1))[0]!;
  await startRedis();
  stack = await startStack({
    users: 10,
    memes: 30,
    routerEnv: {
      REDIS_URL: `redis://127.0.0.1:${port}`,
      TIERS_JSON: JSON.stringify({ anonymous: { requestsPerMinute: 5 } }),
    },
  });
});
afterAll(async () => {
  await stack?.close();
  await stopRedis();
});

describe('Redis down and back', () => {
  it('keeps serving on each instance’s own limits and bypassed caches, and resumes when Redis returns', async () => {
    const client = routerClient(stack.routerUrl);
    const QUERY = `{ templates { id } }`;
    expect((await client(QUERY)).headers.get('x-ratelimit-remaining')).toBe('4');

    await stopRedis();
    const during = await client(QUERY);
    expect(during.status).toBe(200);
    expect(during.body.data).toBeTruthy();
    // Limits fall back to this instance: a fresh window here.
    expect(during.headers.get('x-ratelimit-remaining')).toBe('4');
    for (let i = 0; i < 4; i++) expect((await client(QUERY)).status).toBe(200);
    const limited = await client(QUERY);
    expect(limited.status).toBe(429);
    const ready = await fetch(`${stack.routerUrl}/ready`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { checks: Record<string, string> }).checks.redis).toBe('unavailable');

    await startRedis();
    // Back on Redis: the shared window starts over in the new, empty Redis.
    await eventually(async () => (await client(QUERY)).headers.get('x-ratelimit-remaining') === '4', 10_000, 200);
    const health = await fetch(`${stack.routerUrl}/health`);
    expect(health.status).toBe(200);
  }, 30_000);
});
