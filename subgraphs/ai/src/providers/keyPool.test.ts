import { Writable } from 'node:stream';
import { GraphQLError } from 'graphql';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import {
  AiServiceUnavailableError,
  BadOutputError,
  KeyRejectedError,
  ProviderUnavailableError,
  QuotaError,
  QuotaExceededError,
} from './errors';
import { KeyPool, keyFingerprint, type KeyPoolOptions, type PoolMember } from './keyPool';
import { LocalProvider } from './local';
import type { GeneratedMeme, GenerationRequest, MemeProvider } from './provider';

type Behaviour = 'ok' | 'slow' | 'fail' | 'rate' | 'quota' | 'reject' | 'bad' | 'hang' | 'ignore-signal';

const request: GenerationRequest = {
  prompt: 'when the pool works',
  template: { id: '1', name: 'Drake' },
  captions: [],
};

/** An in-memory member whose behaviour a test sets, counting its calls. */
class ScriptedKey implements MemeProvider {
  calls = 0;
  constructor(
    readonly name: string,
    readonly key: string,
    public behaviour: Behaviour = 'ok',
  ) {}

  generate(_request: GenerationRequest, signal?: AbortSignal): Promise<GeneratedMeme> {
    this.calls += 1;
    const meme = { title: `served by ${this.key.slice(-2)}`, topText: 'a', bottomText: 'b', tags: [] };
    switch (this.behaviour) {
      case 'ok':
        return Promise.resolve(meme);
      case 'slow':
        return new Promise((resolve) => setTimeout(() => resolve(meme), 40));
      case 'fail':
        return Promise.reject(new ProviderUnavailableError(`${this.name} answered 500`, this.name, { status: 500 }));
      case 'rate':
        return Promise.reject(
          new QuotaError(`${this.name} answered 429`, this.name, { kind: 'rate', retryAfterMs: 2_000, status: 429 }),
        );
      case 'quota':
        return Promise.reject(new QuotaError(`${this.name} answered 429`, this.name, { kind: 'quota', status: 429 }));
      case 'reject':
        return Promise.reject(new KeyRejectedError(`${this.name} answered 401`, this.name, { status: 401 }));
      case 'bad':
        return Promise.reject(new BadOutputError(`${this.name} answered with text that is not JSON`, this.name));
      case 'hang':
        return new Promise((_resolve, reject) =>
          signal?.addEventListener('abort', () => reject(signal.reason), { once: true }),
        );
      case 'ignore-signal':
        return new Promise(() => undefined);
    }
  }
}

function memoryLog() {
  const lines: string[] = [];
  const log = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    }),
  );
  return { log, lines };
}

function setup(count: number, options: Partial<KeyPoolOptions> = {}) {
  const keys = Array.from(
    { length: count },
    (_, i) => new ScriptedKey('openai', `memegraph-secret-key-${i}-abcdefgh${String(i).padStart(2, '0')}`),
  );
  const { log, lines } = memoryLog();
  const members: PoolMember[] = keys.map((k) => ({ provider: k, fingerprint: keyFingerprint(k.key) }));
  const pool = new KeyPool(members, { log, retryBaseMs: 1, halfOpenAfterMs: 60_000, breakerThreshold: 3, ...options });
  const stat = (k: ScriptedKey) => pool.stats().find((s) => s.fingerprint === keyFingerprint(k.key))!;
  const noSecrets = (...texts: string[]) => {
    for (const text of texts) for (const k of keys) expect(text).not.toContain(k.key);
  };
  return { keys, pool, lines, stat, noSecrets };
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as Error,
  );
}

async function until(check: () => boolean | Promise<boolean>, deadlineMs = 3_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('KeyPool', () => {
  it('spreads idle traffic over equally healthy keys', async () => {
    const { keys, pool } = setup(4);
    for (let i = 0; i < 8; i++) await pool.generate(request);
    expect(keys.map((k) => k.calls)).toEqual([2, 2, 2, 2]);
  });

  it('prefers faster keys when idle, yet measures a slow key again now and then', async () => {
    const { keys, pool, stat } = setup(2);
    keys[0]!.behaviour = 'slow'; // 40 ms against about nothing
    for (let i = 0; i < 6; i++) await pool.generate(request);
    // Until each key has a few samples they take turns.
    expect(keys.map((k) => k.calls)).toEqual([3, 3]);
    for (let i = 0; i < 24; i++) await pool.generate(request);
    expect(keys[1]!.calls).toBeGreaterThan(3 * keys[0]!.calls);
    expect(keys[0]!.calls).toBeGreaterThan(3);
    expect(stat(keys[0]!).ewmaLatencyMs).toBeGreaterThanOrEqual(35);
  });

  it('prefers the key with the fewest requests in flight', async () => {
    const { keys, pool } = setup(3);
    keys[0]!.behaviour = 'hang';
    keys[1]!.behaviour = 'hang';
    const controller = new AbortController();
    const hanging = [pool.generate(request, controller.signal), pool.generate(request, controller.signal)];
    await pool.generate(request);
    expect(keys[2]!.calls).toBe(1);
    expect(pool.stats().map((s) => s.inFlight)).toEqual([1, 1, 0]);
    controller.abort();
    await Promise.allSettled(hanging);
    expect(pool.stats().map((s) => s.inFlight)).toEqual([0, 0, 0]);
  });

  it('retries a failed attempt on another key', async () => {
    const { keys, pool, stat } = setup(3);
    keys[0]!.behaviour = 'fail';
    const meme = await pool.generate(request);
    expect(meme.title).toBe(`served by ${keys[1]!.key.slice(-2)}`);
    expect(stat(keys[0]!)).toMatchObject({ failures: 1, successes: 0, breaker: 'closed' });
    expect(stat(keys[0]!).errorRate).toBeGreaterThan(0);
  });

  it('opens a breaker after repeated failures, then closes it when the key recovers', async () => {
    const { keys, pool, stat } = setup(2, { halfOpenAfterMs: 50, breakerThreshold: 3 });
    keys[0]!.behaviour = 'fail';
    await until(async () => {
      await pool.generate(request);
      return stat(keys[0]!).breaker === 'open';
    });
    const calls = keys[0]!.calls;
    expect(calls).toBe(3);
    // Open: no more calls until the half-open time has passed.
    for (let i = 0; i < 5; i++) await pool.generate(request);
    expect(keys[0]!.calls).toBe(calls);

    keys[0]!.behaviour = 'ok';
    await until(async () => {
      await pool.generate(request);
      return stat(keys[0]!).breaker === 'closed';
    });
    expect(stat(keys[0]!).successes).toBe(1);
    for (let i = 0; i < 6; i++) await pool.generate(request);
    expect(stat(keys[0]!).successes).toBeGreaterThan(1);
  });

  it('re-opens a breaker whose probe fails, and the probing request is still served', async () => {
    const { keys, pool, stat } = setup(2, { halfOpenAfterMs: 30, breakerThreshold: 1 });
    keys[0]!.behaviour = 'fail';
    await pool.generate(request); // opens key 0
    expect(stat(keys[0]!).breaker).toBe('open');
    await until(async () => {
      await pool.generate(request);
      return keys[0]!.calls === 2;
    });
    expect(stat(keys[0]!).breaker).toBe('open');
  });

  it('counts a refused key as a failure that opens its breaker', async () => {
    const { keys, pool, stat } = setup(2, { breakerThreshold: 2 });
    keys[0]!.behaviour = 'reject';
    for (let i = 0; i < 6; i++) await pool.generate(request);
    expect(stat(keys[0]!)).toMatchObject({ breaker: 'open', failures: 2 });
  });

  it('moves a throttled request to the next key at once and rests the key for its Retry-After', async () => {
    const { keys, pool, stat } = setup(3, { retryBaseMs: 5_000 });
    keys[0]!.behaviour = 'rate';
    const started = Date.now();
    await pool.generate(request);
    expect(Date.now() - started).toBeLessThan(1_000); // no backoff for a quota move
    const s = stat(keys[0]!);
    expect(s).toMatchObject({ throttled: 1, failures: 0, breaker: 'closed' });
    expect(s.coolingUntil! - Date.now()).toBeGreaterThan(1_500);
    for (let i = 0; i < 6; i++) await pool.generate(request);
    expect(keys[0]!.calls).toBe(1);
  });

  it('rests a key out of quota for the configured time when it gives no Retry-After', async () => {
    const { keys, pool, stat } = setup(2, { quotaCooldownMs: 30_000 });
    keys[0]!.behaviour = 'quota';
    await pool.generate(request);
    expect(stat(keys[0]!).coolingUntil! - Date.now()).toBeGreaterThan(25_000);
  });

  it('answers QUOTA_EXCEEDED with a retry time when every key is resting', async () => {
    const { keys, pool, noSecrets } = setup(3);
    for (const k of keys) k.behaviour = 'rate';
    const error = await rejection(pool.generate(request));
    expect(error).toBeInstanceOf(QuotaExceededError);
    expect(error).toBeInstanceOf(GraphQLError);
    expect((error as GraphQLError).extensions).toEqual({ code: 'QUOTA_EXCEEDED', retryAfter: 2 });
    expect(keys.map((k) => k.calls)).toEqual([1, 1, 1]);
    noSecrets(error.message, JSON.stringify(error));
  });

  it('answers AI_SERVICE_UNAVAILABLE after three failed attempts, with backoff between them', async () => {
    const { keys, pool } = setup(5, { retryBaseMs: 20 });
    for (const k of keys) k.behaviour = 'fail';
    const started = Date.now();
    const error = await rejection(pool.generate(request));
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(AiServiceUnavailableError);
    expect((error as GraphQLError).extensions.code).toBe('AI_SERVICE_UNAVAILABLE');
    expect(keys.reduce((sum, k) => sum + k.calls, 0)).toBe(3);
    // Backoffs of 10–20 ms then 20–40 ms.
    expect(elapsed).toBeGreaterThanOrEqual(30);
    expect(error.cause).toBeInstanceOf(ProviderUnavailableError);
  });

  it('never makes more than three attempts, even when asked to', async () => {
    const { keys, pool } = setup(6, { maxAttempts: 10 });
    for (const k of keys) k.behaviour = 'fail';
    await rejection(pool.generate(request));
    expect(keys.reduce((sum, k) => sum + k.calls, 0)).toBe(3);
  });

  it('retries a single key with backoff', async () => {
    const { keys, pool } = setup(1);
    keys[0]!.behaviour = 'bad';
    const error = await rejection(pool.generate(request));
    expect(error).toBeInstanceOf(AiServiceUnavailableError);
    expect(keys[0]!.calls).toBe(3);
  });

  it('does not open a breaker for unusable model output', async () => {
    const { keys, pool, stat } = setup(2, { breakerThreshold: 2 });
    keys[0]!.behaviour = 'bad';
    for (let i = 0; i < 6; i++) await pool.generate(request);
    expect(stat(keys[0]!).breaker).toBe('closed');
  });

  it('answers AI_SERVICE_UNAVAILABLE at once when every breaker is open', async () => {
    const { keys, pool, stat } = setup(2, { breakerThreshold: 1 });
    for (const k of keys) k.behaviour = 'fail';
    await rejection(pool.generate(request));
    expect(keys.every((k) => stat(k).breaker === 'open')).toBe(true);
    const calls = keys.map((k) => k.calls);
    const error = await rejection(pool.generate(request));
    expect((error as GraphQLError).extensions.code).toBe('AI_SERVICE_UNAVAILABLE');
    expect(keys.map((k) => k.calls)).toEqual(calls);
  });

  it('times out an attempt, even on a provider that ignores the signal, and serves from another key', async () => {
    const { keys, pool, stat } = setup(2, { attemptTimeoutMs: 40 });
    keys[0]!.behaviour = 'ignore-signal';
    const started = Date.now();
    await pool.generate(request);
    expect(Date.now() - started).toBeGreaterThanOrEqual(35);
    expect(stat(keys[0]!)).toMatchObject({ failures: 1, inFlight: 0 });
    expect(stat(keys[0]!).ewmaLatencyMs).toBeGreaterThanOrEqual(35);
    expect(stat(keys[1]!).successes).toBe(1);
  });

  it('lets the caller abort without blaming the key', async () => {
    const { keys, pool, stat } = setup(1, { breakerThreshold: 1 });
    keys[0]!.behaviour = 'hang';
    const controller = new AbortController();
    const pending = pool.generate(request, controller.signal);
    controller.abort(new Error('client went away'));
    await expect(pending).rejects.toThrow('client went away');
    expect(stat(keys[0]!)).toMatchObject({ failures: 0, breaker: 'closed', inFlight: 0 });
  });

  it('serves from a fallback member only when no regular key can', async () => {
    const { log } = memoryLog();
    const hosted = new ScriptedKey('openai', 'memegraph-secret-key-fallback-test');
    const pool = new KeyPool(
      [
        { provider: hosted, fingerprint: keyFingerprint(hosted.key) },
        { provider: new LocalProvider(), fingerprint: null, fallback: true },
      ],
      { log, retryBaseMs: 1, breakerThreshold: 1 },
    );
    expect(pool.name).toBe('openai+local');
    expect((await pool.generate(request)).title).toMatch(/^served by/);
    hosted.behaviour = 'quota';
    expect((await pool.generate(request)).title).toBe('Drake: when the pool works');
    expect(pool.stats().map((s) => s.id)).toEqual([`openai#0:${keyFingerprint(hosted.key)}`, 'local#0']);
    expect(pool.stats()[1]).toMatchObject({ fallback: true, successes: 1, fingerprint: null });

    // A failing key: the fallback serves on the retry, without waiting for the breaker.
    hosted.behaviour = 'fail';
    const other = new KeyPool(
      [
        { provider: hosted, fingerprint: keyFingerprint(hosted.key) },
        { provider: new LocalProvider(), fingerprint: null, fallback: true },
      ],
      { log, retryBaseMs: 1, breakerThreshold: 5 },
    );
    expect((await other.generate(request)).title).toBe('Drake: when the pool works');
    expect(other.stats()[0]).toMatchObject({ failures: 1, breaker: 'closed' });
  });

  it('reports stats per key without the key, and logs without it', async () => {
    const { keys, pool, lines, noSecrets } = setup(3, { breakerThreshold: 1 });
    keys[0]!.behaviour = 'fail';
    keys[1]!.behaviour = 'quota';
    await pool.generate(request);
    const stats = pool.stats();
    expect(stats.map((s) => s.id)).toEqual(keys.map((k, i) => `openai#${i}:${keyFingerprint(k.key)}`));
    expect(stats[0]).toMatchObject({
      provider: 'openai',
      index: 0,
      breaker: 'open',
      failures: 1,
      inFlight: 0,
      successes: 0,
    });
    expect(stats[1]).toMatchObject({ throttled: 1, breaker: 'closed' });
    expect(stats[2]).toMatchObject({ successes: 1, failures: 0, coolingUntil: null });
    expect(stats[2]!.ewmaLatencyMs).not.toBeNull();
    expect(lines.some((line) => line.includes('AI key circuit opened'))).toBe(true);
    expect(lines.some((line) => line.includes('AI key throttled'))).toBe(true);
    noSecrets(JSON.stringify(stats), ...lines);
  });
});

describe('keyFingerprint', () => {
  it('is short, stable and not the key', () => {
    const fp = keyFingerprint('sk-abcdefghijklmnop');
    expect(fp).toMatch(/^[0-9a-f]{8}$/);
    expect(fp).toBe(keyFingerprint('sk-abcdefghijklmnop'));
    expect(fp).not.toBe(keyFingerprint('sk-abcdefghijklmnoq'));
  });
});
