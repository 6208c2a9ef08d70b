import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './support/accounts';
import { gql } from './support/client';
import { startProxy, type TestProxy } from './support/proxy';
import { GENEROUS_ANONYMOUS, startStack, type Stack } from './support/stack';

const ROUTER_MAIN = fileURLToPath(new URL('../router/src/main.ts', import.meta.url));
const SUBGRAPH_DELAY_MS = 1_000;

let stack: Stack;
let slowMemes: TestProxy;
let router: ChildProcess;
let routerUrl: string;
const messages: string[] = [];

beforeAll(async () => {
  stack = await startStack({ users: 5, memes: 20 });
  // The memes subgraph behind a proxy that takes a second: requests are still in flight when SIGTERM comes.
  slowMemes = await startProxy([stack.subgraphUrls.memes]);
  slowMemes.behaviour.delayMs = SUBGRAPH_DELAY_MS;

  router = spawn(process.execPath, ['--import', 'tsx', ROUTER_MAIN], {
    env: {
      ...process.env,
      ...stack.routerEnv,
      TIERS_JSON: GENEROUS_ANONYMOUS,
      SUBGRAPH_URL_MEMES: slowMemes.url('/graphql'),
      PORT: '0',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  createInterface({ input: router.stdout! }).on('line', (line) => {
    if (!line.startsWith('{')) return;
    const entry = JSON.parse(line) as { msg: string; url?: string };
    messages.push(entry.msg);
    if (entry.msg === 'router ready') routerUrl = entry.url!;
  });
  await eventually(async () => routerUrl !== undefined, 30_000, 50);
});
afterAll(async () => {
  if (router?.exitCode === null) router.kill('SIGKILL');
  await slowMemes?.close();
  await stack?.close();
});

describe('SIGTERM', () => {
  it('lets the requests in flight finish with their data, refuses new connections, then exits cleanly', async () => {
    const inFlight = Array.from({ length: 3 }, () => gql<{ randomMeme: { id: string } | null }>(routerUrl, '{ randomMeme { id title } }'));
    await eventually(async () => slowMemes.calls >= 3, 5_000);

    const exited = new Promise<number | null>((resolve) => router.once('exit', (code) => resolve(code)));
    router.kill('SIGTERM');
    await eventually(async () => messages.includes('draining'), 5_000);
    await expect(fetch(routerUrl.replace(/\/graphql$/, '/health'))).rejects.toThrow();

    for (const response of await Promise.all(inFlight)) {
      expect(response.status).toBe(200);
      expect(response.body.errors).toBeUndefined();
      expect(response.body.data!.randomMeme!.id).toMatch(/^\d+$/);
    }
    expect(await exited).toBe(0);
    // The three requests were logged after the drain began, and the process logged its stop. (Once, on a
    // busy machine, two of the request lines came after 'stopped': their order is not what is under test.)
    const afterDrain = messages.slice(messages.indexOf('draining'));
    expect(afterDrain.filter((m) => m === 'request')).toHaveLength(3);
    expect(afterDrain).toContain('stopped');
  });
});
