import { Writable } from 'node:stream';
import { GraphQLError } from 'graphql';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  GeminiProvider,
  KeyRejectedError,
  QuotaError,
  createProvider,
  keyFingerprint,
  readAiProvidersConfig,
  type GenerationRequest,
  type KeyStats,
  type PooledProvider,
} from '@memegraph/ai/providers';
import { fakeMeme, startFakeProvider, type FakeProvider } from './support/fakeProvider';

// The AI provider layer against a fake upstream over real HTTP: no Memegraph stack needed.

const logLines: string[] = [];
const log = pino(
  { level: 'debug' },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  }),
);

let fake: FakeProvider;
/** Keys the fake does not know: it answers 401 quoting them, as real APIs do. */
const unknownKeys = ['memegraph-unknown-key-0123456789', 'memegraph-unknown-key-abcdefghij'];

beforeAll(async () => {
  fake = await startFakeProvider({ keys: 17, latencyMs: 2, slowMs: 10_000, retryAfterSeconds: 30 });
});
afterEach(() => fake.heal());
afterAll(async () => {
  await fake?.close();
});

interface PoolSettings {
  kind?: 'openai' | 'gemini';
  keys?: string[];
  attemptTimeoutMs?: number;
  halfOpenMs?: number;
  threshold?: number;
}

/** A pool built the way the service builds it: from environment variables. */
function pool(settings: PoolSettings = {}): PooledProvider {
  const kind = settings.kind ?? 'openai';
  const config = readAiProvidersConfig({
    AI_PROVIDERS: JSON.stringify([
      { name: kind, kind, baseUrl: fake.url, model: 'fake-model', keys: settings.keys ?? fake.keys },
    ]),
    AI_ATTEMPT_TIMEOUT_MS: String(settings.attemptTimeoutMs ?? 2_000),
    AI_BREAKER_HALF_OPEN_MS: String(settings.halfOpenMs ?? 300),
    AI_BREAKER_THRESHOLD: String(settings.threshold ?? 3),
    AI_RETRY_BASE_MS: '10',
    AI_QUOTA_COOLDOWN_MS: '60000',
  });
  return createProvider(config, log);
}

const request = (i: number): GenerationRequest => ({
  prompt: `when the build passes number ${i}`,
  template: { id: '7', name: 'Drake' },
  captions: [{ topText: 'writing tests', bottomText: 'shipping on friday' }],
});

/** Runs `count` tasks, `concurrency` at a time, and settles them all. */
async function runMany<T>(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<T>,
): Promise<PromiseSettledResult<T>[]> {
  const results: PromiseSettledResult<T>[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i).then(
          (value): PromiseSettledResult<T> => ({ status: 'fulfilled', value }),
          (reason: unknown): PromiseSettledResult<T> => ({ status: 'rejected', reason }),
        );
      }
    }),
  );
  return results;
}

/** Polls `check` (no fixed sleeps) until it holds or the deadline passes. */
async function until(check: () => Promise<boolean> | boolean, deadlineMs = 5_000, everyMs = 25): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

const statsOf = (provider: PooledProvider, key: string): KeyStats => {
  const found = provider.stats().find((s) => s.fingerprint === keyFingerprint(key));
  if (!found) throw new Error('no stats for key');
  return found;
};

/** Every message in an error's cause chain (and a GraphQLError's original error). */
function messages(error: unknown): string[] {
  const out: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 10; depth++) {
    out.push(current.message, current.stack ?? '');
    current = current.cause ?? (current instanceof GraphQLError ? current.originalError : undefined);
  }
  return out;
}

async function rejection(promise: Promise<unknown>): Promise<GraphQLError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GraphQLError);
  return error as GraphQLError;
}

describe('a pool of 17 keys over HTTP', () => {
  it('serves every request while three keys fail, opens their breakers, and closes them once the keys heal', async () => {
    const provider = pool({ halfOpenMs: 300, threshold: 3 });
    const failing = [fake.keys[2]!, fake.keys[7]!, fake.keys[12]!];
    for (const key of failing) fake.setKey(key, 'fail');

    const results = await runMany(200, 20, (i) => provider.generate(request(i)));
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(rejected, JSON.stringify(rejected.slice(0, 3))).toHaveLength(0);
    const first = results[0] as PromiseFulfilledResult<Awaited<ReturnType<PooledProvider['generate']>>>;
    const expected = fakeMeme({ prompt: request(0).prompt, template: 'Drake', examples: request(0).captions });
    expect(first.value).toEqual(expected);

    for (const key of failing) {
      expect(statsOf(provider, key)).toMatchObject({ breaker: 'open', successes: 0 });
      expect(statsOf(provider, key).failures).toBeGreaterThanOrEqual(3);
    }

    // With the breakers open the failing keys get at most one probe per half-open period, the rest get everything.
    const before = failing.map((key) => fake.calls(key));
    const totalBefore = fake.totalCalls();
    const started = Date.now();
    const again = await runMany(100, 20, (i) => provider.generate(request(1000 + i)));
    const elapsed = Date.now() - started;
    expect(again.every((r) => r.status === 'fulfilled')).toBe(true);
    const probesAllowed = Math.floor(elapsed / 300) + 1;
    failing.forEach((key, i) => expect(fake.calls(key) - before[i]!).toBeLessThanOrEqual(probesAllowed));
    expect(fake.totalCalls() - totalBefore).toBeGreaterThanOrEqual(100);

    fake.heal();
    const healedFrom = failing.map((key) => fake.calls(key));
    let n = 2000;
    await until(async () => {
      await runMany(20, 20, () => provider.generate(request(n++)));
      return failing.every((key) => {
        const s = statsOf(provider, key);
        return s.breaker === 'closed' && s.successes >= 2;
      });
    });
    failing.forEach((key, i) => expect(fake.calls(key)).toBeGreaterThan(healedFrom[i]! + 1));

    const stats = JSON.stringify(provider.stats());
    for (const key of fake.keys) expect(stats).not.toContain(key);
    expect(provider.stats()[0]).toMatchObject({
      id: `openai#0:${keyFingerprint(fake.keys[0]!)}`,
      provider: 'openai',
      index: 0,
    });
  });

  it('moves requests off keys that are out of quota or throttled and lets those keys cool down', async () => {
    const provider = pool();
    const quota = fake.keys.slice(0, 4);
    const throttled = fake.keys.slice(4, 6);
    for (const key of quota) fake.setKey(key, 'quota');
    for (const key of throttled) fake.setKey(key, 'throttle');

    const results = await runMany(60, 20, (i) => provider.generate(request(i)));
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);

    const now = Date.now();
    for (const key of [...quota, ...throttled]) {
      const s = statsOf(provider, key);
      expect(s.throttled).toBeGreaterThanOrEqual(1);
      expect(s.failures).toBe(0);
      expect(s.breaker).toBe('closed');
      expect(s.coolingUntil).toBeGreaterThan(now);
    }
    // Out of quota: the default rest (60 s); throttled: the fake's Retry-After (30 s).
    expect(statsOf(provider, quota[0]!).coolingUntil! - now).toBeGreaterThan(45_000);
    expect(statsOf(provider, throttled[0]!).coolingUntil! - now).toBeGreaterThan(20_000);
    expect(statsOf(provider, throttled[0]!).coolingUntil! - now).toBeLessThanOrEqual(30_000);

    const before = [...quota, ...throttled].map((key) => fake.calls(key));
    const again = await runMany(40, 20, (i) => provider.generate(request(100 + i)));
    expect(again.every((r) => r.status === 'fulfilled')).toBe(true);
    expect([...quota, ...throttled].map((key) => fake.calls(key))).toEqual(before);
  });

  it('answers AI_SERVICE_UNAVAILABLE when every key fails, and stops calling them once their breakers are open', async () => {
    const provider = pool({ halfOpenMs: 60_000, threshold: 3 });
    for (const key of fake.keys) fake.setKey(key, 'fail');

    const totalBefore = fake.totalCalls();
    const error = await rejection(provider.generate(request(1)));
    expect(error.extensions.code).toBe('AI_SERVICE_UNAVAILABLE');
    expect(fake.totalCalls() - totalBefore).toBe(3); // at most three attempts per request

    await until(
      async () => {
        const e = await rejection(provider.generate(request(2)));
        expect(e.extensions.code).toBe('AI_SERVICE_UNAVAILABLE');
        return provider.stats().every((s) => s.breaker === 'open');
      },
      5_000,
      0,
    );
    const openedAt = fake.totalCalls();
    const fast = await rejection(provider.generate(request(3)));
    expect(fast.extensions.code).toBe('AI_SERVICE_UNAVAILABLE');
    expect(fake.totalCalls()).toBe(openedAt);

    for (const text of messages(error)) for (const key of fake.keys) expect(text).not.toContain(key);
  });

  it('answers QUOTA_EXCEEDED when every key is out of quota, trying each key once', async () => {
    const provider = pool();
    for (const key of fake.keys) fake.setKey(key, 'quota');

    const totalBefore = fake.totalCalls();
    const error = await rejection(provider.generate(request(1)));
    expect(error.extensions).toMatchObject({ code: 'QUOTA_EXCEEDED' });
    expect(error.extensions.retryAfter).toBeGreaterThan(50);
    expect(fake.totalCalls() - totalBefore).toBe(17);
    expect(provider.stats().every((s) => s.coolingUntil !== null && s.breaker === 'closed')).toBe(true);

    const second = await rejection(provider.generate(request(2)));
    expect(second.extensions.code).toBe('QUOTA_EXCEEDED');
    expect(fake.totalCalls() - totalBefore).toBe(17);
    for (const text of messages(error)) for (const key of fake.keys) expect(text).not.toContain(key);
  });

  it('gives up on a slow key at the attempt timeout and lets another key serve', async () => {
    const provider = pool({ attemptTimeoutMs: 250 });
    const slow = fake.keys[0]!;
    fake.setKey(slow, 'slow');

    const durations: number[] = [];
    const results = await runMany(20, 20, async (i) => {
      const started = Date.now();
      const meme = await provider.generate(request(i));
      durations.push(Date.now() - started);
      return meme;
    });
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(fake.calls(slow)).toBeGreaterThanOrEqual(1);
    const s = statsOf(provider, slow);
    expect(s.failures).toBeGreaterThanOrEqual(1);
    expect(s.successes).toBe(0);
    expect(s.ewmaLatencyMs).toBeGreaterThanOrEqual(240);
    // The request that met the slow key waited out one timeout, then was served elsewhere, well before the fake answered.
    expect(Math.max(...durations)).toBeGreaterThanOrEqual(240);
    expect(Math.max(...durations)).toBeLessThan(2_000);
  });

  it('redacts keys an upstream quotes back when it refuses them', async () => {
    const provider = pool({ keys: unknownKeys, halfOpenMs: 60_000 });
    const error = await rejection(provider.generate(request(1)));
    expect(error.extensions.code).toBe('AI_SERVICE_UNAVAILABLE');
    const chain = messages(error).join('\n');
    expect(chain).toContain('[redacted]');
    for (const key of unknownKeys) expect(chain).not.toContain(key);
  });
});

describe('the Gemini-style adapter over HTTP', () => {
  it('serves memes through a pool, moving off keys that are out of quota or refused', async () => {
    const keys = fake.keys.slice(0, 5);
    const provider = pool({ kind: 'gemini', keys });
    fake.setKey(keys[0]!, 'quota');
    fake.setKey(keys[1]!, 'reject');

    const results = await runMany(30, 10, (i) => provider.generate(request(i)));
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect((results[3] as PromiseFulfilledResult<unknown>).value).toEqual(
      fakeMeme({ prompt: request(3).prompt, template: 'Drake', examples: request(3).captions }),
    );
    // Requests that chose the key before its first 429 came back meet it too; none after.
    expect(statsOf(provider, keys[0]!)).toMatchObject({ successes: 0, failures: 0 });
    expect(statsOf(provider, keys[0]!).throttled).toBeGreaterThanOrEqual(1);
    expect(statsOf(provider, keys[0]!).coolingUntil).not.toBeNull();
    expect(statsOf(provider, keys[1]!).failures).toBeGreaterThanOrEqual(1);
    expect(statsOf(provider, keys[1]!).successes).toBe(0);
    expect(provider.stats()[0]!.id).toMatch(/^gemini#0:[0-9a-f]{8}$/);
  });

  it('maps quota and refused keys to typed errors without the key in them', async () => {
    const key = fake.keys[9]!;
    const adapter = new GeminiProvider({ name: 'gemini', baseUrl: fake.url, model: 'fake-model', apiKey: key });
    await expect(adapter.generate(request(1))).resolves.toMatchObject({ title: `Drake: ${request(1).prompt}` });

    fake.setKey(key, 'quota');
    const quota = await adapter.generate(request(1)).catch((e: unknown) => e);
    expect(quota).toBeInstanceOf(QuotaError);
    expect(quota).toMatchObject({ kind: 'quota', status: 429 });

    const stranger = new GeminiProvider({
      name: 'gemini',
      baseUrl: fake.url,
      model: 'fake-model',
      apiKey: unknownKeys[0]!,
    });
    const refused = await stranger.generate(request(1)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(KeyRejectedError);
    expect((refused as Error).message).toContain('[redacted]');
    expect((refused as Error).message).not.toContain(unknownKeys[0]);
  });
});

describe('logs', () => {
  it('never contain an API key', () => {
    expect(logLines.length).toBeGreaterThan(10);
    const all = logLines.join('');
    for (const key of [...fake.keys, ...unknownKeys]) expect(all).not.toContain(key);
    expect(all).toContain('AI key circuit opened');
  });
});
