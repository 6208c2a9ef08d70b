import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './support/accounts';
import { gql } from './support/client';
import { startProxy, type TestProxy } from './support/proxy';
import { startRouterProcess, type RouterProcess } from './support/routerProcess';
import { GENEROUS_ANONYMOUS, startStack, type Stack } from './support/stack';

const SUBGRAPH_DELAY_MS = 1_000;

let stack: Stack;
let slowMemes: TestProxy;
let router: RouterProcess;
let routerUrl: string;

beforeAll(async () => {
  stack = await startStack({ users: 5, memes: 20 });
  // The memes subgraph behind a proxy that takes a second: requests are still in flight when SIGTERM comes.
  slowMemes = await startProxy([stack.subgraphUrls.memes]);
  slowMemes.behaviour.delayMs = SUBGRAPH_DELAY_MS;

  router = await startRouterProcess({
    ...stack.routerEnv,
    TIERS_JSON: GENEROUS_ANONYMOUS,
    SUBGRAPH_URL_MEMES: slowMemes.url('/graphql'),
  });
  routerUrl = router.ready()[0]!.url!;
});
afterAll(async () => {
  router?.kill();
  await slowMemes?.close();
  await stack?.close();
});

describe('SIGTERM', () => {
  it('lets the requests in flight finish with their data, refuses new connections, then exits cleanly', async () => {
    // Three distinct memes fetches (trending's size differs): identical ones in flight together would be sent once (SUBGRAPH_DEDUP).
    const inFlight = Array.from({ length: 3 }, (_, i) =>
      gql<{ randomMeme: { id: string } | null }>(
        routerUrl,
        'query($n: Int) { randomMeme { id title } trending(first: $n) { id } }',
        { n: i + 1 },
      ),
    );
    await eventually(async () => slowMemes.calls >= 3, 5_000);

    const messages = () => router.lines.map((l) => l.msg);
    router.child.kill('SIGTERM');
    await eventually(async () => messages().includes('draining'), 5_000);
    await expect(fetch(routerUrl.replace(/\/graphql$/, '/health'))).rejects.toThrow();

    for (const response of await Promise.all(inFlight)) {
      expect(response.status).toBe(200);
      expect(response.body.errors).toBeUndefined();
      expect(response.body.data!.randomMeme!.id).toMatch(/^\d+$/);
    }
    expect(await router.exited).toBe(0);
    // The three requests were logged after the drain began, and the process logged its stop. (Once, on a
    // busy machine, two of the request lines came after 'stopped': their order is not what is under test.)
    const afterDrain = messages().slice(messages().indexOf('draining'));
    expect(afterDrain.filter((m) => m === 'request')).toHaveLength(3);
    expect(afterDrain).toContain('stopped');
  });
});
