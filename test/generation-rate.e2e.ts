import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_QUEUE_SETTINGS, createAiServer, createProvider, readAiProvidersConfig } from '@memegraph/ai';
import {
  DEFAULT_TIERS,
  VIEWER_HEADER,
  createLogger,
  secretKey,
  signViewer,
  type SubgraphServer,
} from '@memegraph/service-kit';
import { gql } from './support/client';
import { TEST_REDIS_URL, startStack, type Stack } from './support/stack';

/*
 * The AI generations-per-minute limit counts any 60 s, not a calendar
 * minute, exactly across instances. The ai subgraphs are called as the
 * router calls them; the test moves their clock (this process's Date, which
 * they read through their injected clock) across a minute boundary.
 */

let stack: Stack;
const servers: SubgraphServer[] = [];
/** Two ai subgraph instances sharing the stack's Redis, on this process's (test-set) clock. */
let shared: [string, string];
/** Two more on the production clock, Redis's own. */
let onRedisClock: [string, string];
/** One ai subgraph without Redis: the in-process limit. */
let solo: string;

const GENERATE = `mutation($p: String!) { generateMeme(input: { prompt: $p }) { id status } }`;
const LIMIT = DEFAULT_TIERS.premium.aiGenerationsPerMinute;
const log = createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent');

beforeAll(async () => {
  stack = await startStack({ users: 3, memes: 10 });
  const start = async (
    redis: { url: string; prefix: string } | null,
    clock: (() => number) | undefined = () => Date.now(),
  ) => {
    const server = await createAiServer({
      db: stack.dbs.ai,
      signingSecret: stack.secrets.signing,
      log,
      memesUrl: new URL(stack.subgraphUrls.memes).origin,
      tiers: DEFAULT_TIERS,
      queue: { ...DEFAULT_QUEUE_SETTINGS, maxWaiting: 10_000 },
      redis,
      provider: createProvider(readAiProvidersConfig({}), log),
      clock,
    });
    servers.push(server);
    return `${await server.listen(0)}/graphql`;
  };
  const redis = { url: TEST_REDIS_URL, prefix: stack.redisPrefix };
  shared = [await start(redis), await start(redis)];
  solo = await start(null);
  onRedisClock = [await start(redis, undefined), await start(redis, undefined)];
});
afterEach(() => {
  vi.useRealTimers();
});
afterAll(async () => {
  for (const server of servers) await server.close();
  await stack?.close();
});

/** A minute boundary ahead of now, and the clock set `offsetMs` from it. */
function setClock(boundary: number, offsetMs: number): void {
  vi.setSystemTime(boundary + offsetMs);
}

/** `count` generateMeme calls at once from a premium user, spread over `urls` in turn; the codes they end with. */
async function burst(urls: string[], userId: string, count: number, label: string): Promise<string[]> {
  const header = await signViewer(
    { kind: 'user', userId, tier: 'premium', scopes: DEFAULT_TIERS.premium.scopes },
    secretKey(stack.secrets.signing),
  );
  const responses = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      gql<{ generateMeme: { status: string } | null }>(
        urls[i % urls.length]!,
        GENERATE,
        { p: `${label} ${userId} ${i}` },
        { [VIEWER_HEADER]: header },
      ),
    ),
  );
  return responses.map((r) => r.body.data?.generateMeme?.status ?? String(r.body.errors?.[0]?.extensions?.code));
}

const tally = (outcomes: string[]) =>
  outcomes.reduce<Record<string, number>>((all, o) => ({ ...all, [o]: (all[o] ?? 0) + 1 }), {});

describe('AI generations per minute', () => {
  for (const [name, urls] of [
    ['on two instances sharing Redis', () => shared],
    ['on one instance without Redis', () => [solo]],
  ] as const) {
    it(`${name}: ${LIMIT} accepted just before a minute boundary leave the next ${LIMIT} refused just after it`, async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const boundary = (Math.floor(Date.now() / 60_000) + 5) * 60_000;
      const user = name.includes('two') ? '910001' : '910002';
      setClock(boundary, -1_000);
      expect(tally(await burst(urls(), user, LIMIT, 'at :59'))).toEqual({ QUEUED: LIMIT });
      setClock(boundary, 1_000);
      expect(tally(await burst(urls(), user, LIMIT, 'at :01'))).toEqual({ RATE_LIMIT_EXCEEDED: LIMIT });
      // A minute after the first ones, they have left the window: the allowance is back, and no more.
      setClock(boundary, 59_000);
      expect(tally(await burst(urls(), user, LIMIT + 5, 'a minute later'))).toEqual({
        QUEUED: LIMIT,
        RATE_LIMIT_EXCEEDED: 5,
      });
    });
  }

  it(`200 concurrent requests over two instances: exactly ${LIMIT} accepted`, async () => {
    expect(tally(await burst(onRedisClock, '910003', 200, 'concurrent'))).toEqual({
      QUEUED: LIMIT,
      RATE_LIMIT_EXCEEDED: 200 - LIMIT,
    });
    vi.useFakeTimers({ toFake: ['Date'] });
    setClock((Math.floor(Date.now() / 60_000) + 10) * 60_000, 30_000);
    expect(tally(await burst(shared, '910004', 200, 'concurrent'))).toEqual({
      QUEUED: LIMIT,
      RATE_LIMIT_EXCEEDED: 200 - LIMIT,
    });
  });
});
