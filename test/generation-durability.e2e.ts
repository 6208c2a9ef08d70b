import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCatalogFor,
  createGenerationStore,
  createProvider,
  createResultCache,
  readAiProvidersConfig,
  startBullMqWorker,
  type QueueSettings,
} from '@memegraph/ai';
import { createLogger, createRedis } from '@memegraph/service-kit';
import { eventually, signUp, type TestAccount } from './support/accounts';
import { startFakeProvider, type FakeProvider } from './support/fakeProvider';
import { dropKeys, keysOf } from './support/redis';
import { TEST_REDIS_URL, startStack, type Stack } from './support/stack';

/*
 * An accepted generation always finishes: through an outage of the memes
 * subgraph (the catalog), a hand-over whose answer is lost, and a Redis that
 * comes back without the queue. Each ends SUCCEEDED with exactly one catalog meme.
 */

let fake: FakeProvider;
let stack: Stack;
let premium: TestAccount;

const GENERATE = `mutation($p: String!) { generateMeme(input: { prompt: $p }) { id status } }`;
// Short backoff and many attempts: an outage as long as a slow machine makes it is still ridden out.
const SETTINGS: QueueSettings = {
  concurrency: 8,
  maxWaiting: 1_000,
  jobTimeoutMs: 20_000,
  attempts: 200,
  retryDelayMs: 20,
  maxRetryDelayMs: 250,
};
const log = createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent');

beforeAll(async () => {
  fake = await startFakeProvider({ keys: 4, latencyMs: 20 });
  stack = await startStack({
    users: 5,
    memes: 30,
    routerEnv: {
      TIERS_JSON: JSON.stringify({
        premium: { requestsPerMinute: 100_000, costBucketCapacity: 10_000_000, costRestorePerSecond: 100_000 },
      }),
    },
    ai: {
      queue: 'bullmq',
      worker: 'none',
      settings: SETTINGS,
      providerEnv: providerEnv(),
      tiersJson: JSON.stringify({ premium: { aiGenerationsPerMinute: 100_000 } }),
    },
  });
  premium = await signUp(stack.routerUrl, 'durable_generator', 'PREMIUM');
});
afterAll(async () => {
  await stack?.close();
  await fake?.close();
});

function providerEnv(provider: FakeProvider = fake): Record<string, string> {
  return {
    AI_PROVIDERS: JSON.stringify([{ kind: 'openai', baseUrl: provider.url, model: 'fake', keys: provider.keys }]),
  };
}

/** A BullMQ worker in this process, as worker-main.ts runs one, handing memes to `catalogUrl`. */
function startWorker(
  options: { catalogUrl?: string; reconcileIntervalMs?: number; provider?: FakeProvider; concurrency?: number } = {},
) {
  const redisTarget = { url: TEST_REDIS_URL };
  const redis = createRedis(redisTarget, 'durability-test-worker', { maxRetriesPerRequest: 2, offlineQueue: true });
  const worker = startBullMqWorker({
    redisTarget,
    redis,
    prefix: stack.redisPrefix,
    settings: { ...SETTINGS, concurrency: options.concurrency ?? SETTINGS.concurrency },
    lockDurationMs: 5_000,
    reconcileIntervalMs: options.reconcileIntervalMs ?? 60_000,
    deps: {
      store: createGenerationStore(stack.dbs.ai),
      catalog: createCatalogFor(stack.secrets.signing, options.catalogUrl ?? new URL(stack.subgraphUrls.memes).origin),
      provider: createProvider(readAiProvidersConfig(providerEnv(options.provider)), log),
      results: createResultCache(redis, stack.redisPrefix),
      log,
    },
    log,
  });
  return {
    async close() {
      await worker.close();
      redis.disconnect();
    },
  };
}

/** Accepts `count` generations with prompts no earlier one had (a repeat would be answered from the result cache). */
async function accept(count: number, label: string, account: TestAccount = premium): Promise<string[]> {
  const responses = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      account.client<{ generateMeme: { id: string; status: string } }>(GENERATE, { p: `${label} number ${i}` }),
    ),
  );
  for (const r of responses) expect(r.body.data?.generateMeme.status, JSON.stringify(r.body)).toBe('QUEUED');
  return responses.map((r) => r.body.data!.generateMeme.id);
}

async function rows(ids: string[], on: Stack = stack) {
  return on.dbs.ai.query<{ id: string; status: string; meme_id: string | null; started_at: Date | null }>(
    `SELECT id, status, meme_id, started_at FROM generations WHERE id = ANY($1::bigint[])`,
    [ids],
  );
}

const finished = async (ids: string[], on: Stack = stack) =>
  (await rows(ids, on)).every((r) => r.status === 'SUCCEEDED' || r.status === 'FAILED');

/** Every generation SUCCEEDED, each with its own catalog meme, and the catalog holds exactly one meme per generation. */
async function expectOneMemeEach(ids: string[], on: Stack = stack): Promise<void> {
  const ended = await rows(ids, on);
  expect(ended.filter((r) => r.status !== 'SUCCEEDED')).toEqual([]);
  expect(ended).toHaveLength(ids.length);
  const memes = await on.dbs.memes.query<{ id: string; generation_id: string }>(
    `SELECT id, generation_id FROM memes WHERE generation_id = ANY($1::text[])`,
    [ids],
  );
  expect(memes).toHaveLength(ids.length);
  expect(new Set(memes.map((m) => m.generation_id)).size).toBe(ids.length);
  const memeOf = new Map(memes.map((m) => [m.generation_id, m.id]));
  for (const row of ended) expect(row.meme_id).toBe(memeOf.get(row.id));
}

describe('accepted generations always finish', () => {
  it('through an outage of the memes subgraph: the catalog hand-over waits it out', async () => {
    const worker = startWorker();
    try {
      const before = await accept(20, 'before the outage');
      await eventually(async () => (await rows(before)).some((r) => r.status === 'SUCCEEDED'), 30_000, 20);
      await stack.stopSubgraph('memes');
      let during: string[];
      try {
        during = await accept(30, 'during the outage');
        // Each one accepted while the catalog is away meets the outage: the worker has taken every one of them.
        await eventually(async () => (await rows(during)).every((r) => r.started_at !== null), 30_000, 20);
      } finally {
        await stack.restartSubgraph('memes');
      }
      const ids = [...before, ...during];
      await eventually(() => finished(ids), 60_000, 100);
      await expectOneMemeEach(ids);
    } finally {
      await worker.close();
    }
  }, 120_000);

  it('when the catalog made the meme but its answer was lost: the retry finds it, one meme per generation', async () => {
    const memesOrigin = new URL(stack.subgraphUrls.memes).origin;
    const lossy = await startAnswerLosingProxy(memesOrigin);
    const worker = startWorker({ catalogUrl: lossy.url });
    try {
      const ids = await accept(12, 'answer lost');
      await eventually(() => finished(ids), 60_000, 100);
      await expectOneMemeEach(ids);
      // Every hand-over reached the catalog at least twice: once unanswered, then again.
      for (const id of ids) expect(lossy.handovers.get(id)).toBeGreaterThanOrEqual(2);
    } finally {
      await worker.close();
      await lossy.close();
    }
  }, 90_000);

  it('when Redis comes back without the queue: a worker started afterwards queues every waiting generation again', async () => {
    const ids = await accept(20, 'queued before redis forgot');
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const queueKeys = `${stack.redisPrefix}bull:`;
      expect((await keysOf(redis, queueKeys)).length).toBeGreaterThan(0);
      await dropKeys(redis, queueKeys);
      expect(await keysOf(redis, queueKeys)).toEqual([]);
    } finally {
      redis.disconnect();
    }
    expect((await rows(ids)).every((r) => r.status === 'QUEUED')).toBe(true);
    const worker = startWorker({ reconcileIntervalMs: 200 });
    try {
      await eventually(() => finished(ids), 60_000, 100);
      await expectOneMemeEach(ids);
    } finally {
      await worker.close();
    }
  }, 90_000);

  it('when Redis loses the queue under a running worker: queued and running generations are queued again', async () => {
    const slow = await startFakeProvider({ keys: 2, latencyMs: 300 });
    const worker = startWorker({ reconcileIntervalMs: 200, provider: slow, concurrency: 2 });
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const ids = await accept(12, 'queued when redis forgot');
      await eventually(async () => (await rows(ids)).some((r) => r.status === 'RUNNING'), 30_000, 20);
      await dropKeys(redis, `${stack.redisPrefix}bull:`);
      await eventually(() => finished(ids), 60_000, 100);
      await expectOneMemeEach(ids);
    } finally {
      redis.disconnect();
      await worker.close();
      await slow.close();
    }
  }, 90_000);
});

describe('without Redis, the in-process queue', () => {
  let local: Stack;
  beforeAll(async () => {
    local = await startStack({
      users: 3,
      memes: 10,
      noRedis: true,
      routerEnv: stack.routerEnv.TIERS_JSON ? { TIERS_JSON: stack.routerEnv.TIERS_JSON } : {},
      ai: {
        queue: 'memory',
        settings: SETTINGS,
        providerEnv: providerEnv(),
        tiersJson: JSON.stringify({ premium: { aiGenerationsPerMinute: 100_000 } }),
      },
    });
  });
  afterAll(async () => {
    await local?.close();
  });

  it('rides out an outage of the memes subgraph the same way', async () => {
    const account = await signUp(local.routerUrl, 'local_generator', 'PREMIUM');
    const before = await accept(5, 'in process before the outage', account);
    await eventually(() => finished(before, local), 30_000, 20);
    await local.stopSubgraph('memes');
    let during: string[];
    try {
      during = await accept(10, 'in process during the outage', account);
      await eventually(async () => (await rows(during, local)).every((r) => r.started_at !== null), 30_000, 20);
    } finally {
      await local.restartSubgraph('memes');
    }
    await eventually(() => finished(during, local), 60_000, 100);
    await expectOneMemeEach([...before, ...during], local);
  }, 90_000);
});

/**
 * In front of the memes subgraph: passes every request on, but of each
 * generation's first hand-over (`POST /internal/ai-memes`) it drops the
 * answer after the catalog has made the meme, as a connection lost on the
 * way back would.
 */
async function startAnswerLosingProxy(target: string) {
  const upstream = new URL(target);
  const handovers = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let generationId: string | undefined;
      if (req.method === 'POST' && req.url === '/internal/ai-memes') {
        generationId = (JSON.parse(body.toString()) as { generationId: string }).generationId;
        handovers.set(generationId, (handovers.get(generationId) ?? 0) + 1);
      }
      const loseAnswer = generationId !== undefined && handovers.get(generationId) === 1;
      const forward = http.request(
        { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          const parts: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => parts.push(chunk));
          answer.on('end', () => {
            if (loseAnswer) return req.socket.destroy();
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(Buffer.concat(parts));
          });
        },
      );
      forward.on('error', () => res.destroy());
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    handovers,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
