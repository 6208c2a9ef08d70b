import { createHash } from 'node:crypto';
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  IsolatedCircuitError,
  circuitBreaker,
  handleWhen,
  type CircuitBreakerPolicy,
} from 'cockatiel';
import { inSpan, type Logger } from '@memegraph/service-kit';
import {
  AiServiceUnavailableError,
  BadOutputError,
  ProviderUnavailableError,
  QuotaError,
  QuotaExceededError,
  redact,
} from './errors';
import type { GeneratedMeme, GenerationRequest, MemeProvider } from './provider';

/** One key of one provider: an adapter instance bound to that key. */
export interface PoolMember {
  provider: MemeProvider;
  /** A short non-secret fingerprint of the key (see `keyFingerprint`); null for a keyless member such as `local`. */
  fingerprint: string | null;
  /** Served only when no other member can (the offline `local` provider as a last resort). */
  fallback?: boolean;
}

export type BreakerState = 'closed' | 'open' | 'half-open' | 'isolated';

/** What the pool tells about one key: for metrics labels and the admin query, so never the key itself. */
export interface KeyStats {
  /** `provider#index` plus `:fingerprint` when the member has a key, e.g. `openai#3:9f2c1a0b`. */
  id: string;
  provider: string;
  /** Position of the key among its provider's keys, from 0. */
  index: number;
  fingerprint: string | null;
  fallback: boolean;
  inFlight: number;
  successes: number;
  /** Attempts that failed: upstream errors, timeouts, refused keys, unusable answers. */
  failures: number;
  /** Answers that said the key is throttled or out of quota (these move the request on; not counted in `failures`). */
  throttled: number;
  breaker: BreakerState;
  /** Epoch milliseconds until which the key rests after a quota or rate error; null when it is not cooling down. */
  coolingUntil: number | null;
  /** Exponentially weighted moving average of successful (and timed-out) attempts' latency; null before the first. */
  ewmaLatencyMs: number | null;
  /** Exponentially weighted moving average of failures, 0 (healthy) to 1 (failing every time). */
  errorRate: number;
}

export interface KeyPoolOptions {
  log: Logger;
  /** The pool's name as a `MemeProvider` (recorded with each generation); defaults to its providers' names joined by `+`. */
  name?: string;
  /** Time limit of one attempt on one key. Default 15,000 ms. */
  attemptTimeoutMs?: number;
  /** How long a key's open circuit stays open before one request probes it. Default 10,000 ms. */
  halfOpenAfterMs?: number;
  /** Consecutive failures that open a key's circuit. Default 5. */
  breakerThreshold?: number;
  /** Attempts per request, counting failures only (quota moves are free); at most 3. Default 3. */
  maxAttempts?: number;
  /** First retry waits about this long, then twice as long each time, with jitter. Default 200 ms. */
  retryBaseMs?: number;
  /** Longest wait between two attempts. Default 2,000 ms. */
  retryMaxMs?: number;
  /** Rest for a throttled key (HTTP 429, rate) that gave no Retry-After. Default 5,000 ms. */
  rateCooldownMs?: number;
  /** Rest for a key out of quota that gave no Retry-After. Default 60,000 ms. */
  quotaCooldownMs?: number;
  /** Weight of the newest sample in the latency and error averages. Default 0.3. */
  ewmaAlpha?: number;
}

const DEFAULTS = {
  attemptTimeoutMs: 15_000,
  halfOpenAfterMs: 10_000,
  breakerThreshold: 5,
  maxAttempts: 3,
  retryBaseMs: 200,
  retryMaxMs: 2_000,
  rateCooldownMs: 5_000,
  quotaCooldownMs: 60_000,
  ewmaAlpha: 0.3,
} as const;

/** The shortest rest after a quota answer, so a `Retry-After: 0` cannot make us hammer a throttled key. */
const MIN_COOLDOWN_MS = 250;

/** Keys within this factor of the best score (plus a few ms of timer noise) count as equally healthy and take turns. */
const NEAR_BEST = 1.5;
const NEAR_BEST_SLACK_MS = 5;

/**
 * A key left out of this many choices per key is chosen again whatever its
 * score, so one unlucky slow answer cannot keep a key out of light traffic
 * for good: its averages only improve if it is measured again.
 */
const STALE_AFTER_CHOICES_PER_KEY = 4;

/** Latency samples a key needs before its average counts: a first answer is often slow (connection, TLS). */
const MIN_LATENCY_SAMPLES = 3;

/** A short, stable, non-secret name for a key: 8 hex digits of its SHA-256. */
export function keyFingerprint(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/** The caller gave up: not the key's fault, so the breaker must not count it. */
class CallerAborted extends Error {
  override readonly name = 'CallerAborted';
}

interface Slot {
  member: PoolMember;
  id: string;
  provider: string;
  index: number;
  fallback: boolean;
  breaker: CircuitBreakerPolicy;
  /** When the circuit last opened, by our clock: cockatiel lets a probe through once `halfOpenAfterMs` has passed. */
  openedAt: number | null;
  inFlight: number;
  successes: number;
  failures: number;
  throttled: number;
  coolingUntil: number;
  latency: number | null;
  latencySamples: number;
  errorRate: number;
  lastOutcome: 'success' | 'failure' | null;
  /** Order of the last attempt started, so equally healthy keys take turns. */
  lastUsed: number;
}

const breakerStates: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Isolated]: 'isolated',
};

/**
 * A `MemeProvider` that spreads requests over many keys of one or more
 * providers. Each request goes to the healthiest key (fewest in flight, then
 * best latency/error average); each key has its own circuit breaker; a quota
 * answer rests that key and moves the request to another at once; other
 * failures are retried on another key after an exponential backoff with
 * jitter, at most `maxAttempts` attempts in all, each with its own timeout.
 */
export class KeyPool implements MemeProvider {
  readonly name: string;
  private readonly slots: Slot[];
  private readonly options: Required<Omit<KeyPoolOptions, 'name' | 'log'>>;
  private readonly log: Logger;
  private sequence = 0;

  constructor(members: readonly PoolMember[], options: KeyPoolOptions) {
    if (members.length === 0) throw new Error('A key pool needs at least one member');
    const { log, name, ...tuning } = options;
    this.options = { ...DEFAULTS, ...definedOnly(tuning) };
    // Three attempts at most: past that a caller (the queue) is better placed to wait than we are.
    this.options.maxAttempts = Math.min(3, Math.max(1, Math.floor(this.options.maxAttempts)));
    this.log = log.child({ component: 'ai-key-pool' });
    this.name = name ?? [...new Set(members.map((m) => m.provider.name))].join('+');
    const seen = new Map<string, number>();
    this.slots = members.map((member) => {
      const provider = member.provider.name;
      const index = seen.get(provider) ?? 0;
      seen.set(provider, index + 1);
      return this.slot(member, provider, index);
    });
  }

  private slot(member: PoolMember, provider: string, index: number): Slot {
    // Only failures that say something about the key or its upstream count:
    // quota (handled by resting the key), unusable model output and the
    // caller giving up do not.
    const breaker = circuitBreaker(
      handleWhen(
        (error) => !(error instanceof QuotaError || error instanceof BadOutputError || error instanceof CallerAborted),
      ),
      { halfOpenAfter: this.options.halfOpenAfterMs, breaker: new ConsecutiveBreaker(this.options.breakerThreshold) },
    );
    const slot: Slot = {
      member,
      id: `${provider}#${index}${member.fingerprint === null ? '' : `:${member.fingerprint}`}`,
      provider,
      index,
      fallback: member.fallback ?? false,
      breaker,
      openedAt: null,
      inFlight: 0,
      successes: 0,
      failures: 0,
      throttled: 0,
      coolingUntil: 0,
      latency: null,
      latencySamples: 0,
      errorRate: 0,
      lastOutcome: null,
      lastUsed: 0,
    };
    breaker.onBreak(() => {
      slot.openedAt = Date.now();
      this.log.warn({ key: slot.id, halfOpenAfterMs: this.options.halfOpenAfterMs }, 'AI key circuit opened');
    });
    breaker.onReset(() => {
      slot.openedAt = null;
      this.log.info({ key: slot.id }, 'AI key circuit closed');
    });
    return slot;
  }

  async generate(request: GenerationRequest, signal?: AbortSignal): Promise<GeneratedMeme> {
    const tried = new Set<Slot>();
    let failures = 0;
    let lastError: unknown;
    // Quota moves are free but a key that rests is not chosen again, so this bound is only a guard against a loop.
    for (let moves = 0; moves <= this.slots.length * 2 + this.options.maxAttempts; moves += 1) {
      signal?.throwIfAborted();
      const slot = this.choose(tried, failures);
      if (slot === null) break;
      tried.add(slot);
      try {
        // A span per attempt, naming the key by its fingerprint, never the key.
        return await inSpan(
          'ai.provider.attempt',
          { attributes: { 'memegraph.ai.provider': slot.provider, 'memegraph.ai.key': slot.id } },
          () => this.attempt(slot, request, signal),
        );
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        lastError = error;
        // Lost a race for a half-open probe, or a quota answer: neither is a failed attempt, move on at once.
        if (error instanceof BrokenCircuitError || error instanceof IsolatedCircuitError || error instanceof QuotaError)
          continue;
        failures += 1;
        if (failures < this.options.maxAttempts) await sleep(this.backoff(failures), signal);
      }
    }
    throw this.noKeyError(lastError, failures);
  }

  /** Per key, for metrics and the admin query. */
  stats(): KeyStats[] {
    const now = Date.now();
    return this.slots.map((slot) => ({
      id: slot.id,
      provider: slot.provider,
      index: slot.index,
      fingerprint: slot.member.fingerprint,
      fallback: slot.fallback,
      inFlight: slot.inFlight,
      successes: slot.successes,
      failures: slot.failures,
      throttled: slot.throttled,
      breaker: breakerStates[slot.breaker.state],
      coolingUntil: slot.coolingUntil > now ? slot.coolingUntil : null,
      ewmaLatencyMs: slot.latency === null ? null : Math.round(slot.latency * 10) / 10,
      errorRate: Math.round(slot.errorRate * 1000) / 1000,
    }));
  }

  /** Exponential backoff with "equal jitter": between half and all of base × 2^(n-1), capped. */
  private backoff(failures: number): number {
    const ceiling = Math.min(this.options.retryMaxMs, this.options.retryBaseMs * 2 ** (failures - 1));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  private canServe(slot: Slot, now: number): boolean {
    if (slot.coolingUntil > now) return false;
    switch (slot.breaker.state) {
      case CircuitState.Closed:
        return true;
      case CircuitState.Open:
        return this.probeReady(slot, now);
      default:
        // Half-open: one probe is already out, and cockatiel would make us wait for it.
        return false;
    }
  }

  private probeReady(slot: Slot, now: number): boolean {
    return (
      slot.breaker.state === CircuitState.Open &&
      slot.openedAt !== null &&
      now - slot.openedAt >= this.options.halfOpenAfterMs
    );
  }

  /**
   * The key for the next attempt, or null when none can serve. Untried
   * regular members come first, then untried fallbacks (a fallback also gets
   * its turn once the attempts have run out), then, on a retry, keys already
   * tried (a pool of one key still retries). A first attempt probes a key
   * whose circuit is due for it (otherwise an idle pool would never find out a
   * key has healed); a retry never does, and prefers keys that last
   * succeeded, so a request's attempts do not all land on failing keys.
   */
  private choose(tried: ReadonlySet<Slot>, failures: number): Slot | null {
    const now = Date.now();
    const exhausted = failures >= this.options.maxAttempts;
    const again = failures > 0 && !exhausted;
    const usable = this.slots.filter((slot) => this.canServe(slot, now));
    const passes = [
      exhausted ? [] : usable.filter((slot) => !slot.fallback && !tried.has(slot)),
      usable.filter((slot) => slot.fallback && !tried.has(slot)),
      again ? usable.filter((slot) => !slot.fallback) : [],
      again ? usable.filter((slot) => slot.fallback) : [],
    ];
    for (const candidates of passes) {
      if (candidates.length === 0) continue;
      const probes = candidates.filter((slot) => this.probeReady(slot, now));
      if (failures === 0 && probes.length > 0)
        return probes.reduce((a, b) => ((a.openedAt ?? 0) <= (b.openedAt ?? 0) ? a : b));
      const closed = candidates.filter((slot) => !this.probeReady(slot, now));
      return this.healthiest(closed.length > 0 ? closed : probes, failures > 0);
    }
    return null;
  }

  private healthiest(candidates: Slot[], retry: boolean): Slot {
    let pool = candidates;
    if (retry) {
      const rank = (slot: Slot) => (slot.lastOutcome === 'success' ? 0 : slot.lastOutcome === null ? 1 : 2);
      const best = Math.min(...pool.map(rank));
      pool = pool.filter((slot) => rank(slot) === best);
    }
    const fewest = Math.min(...pool.map((slot) => slot.inFlight));
    pool = pool.filter((slot) => slot.inFlight === fewest);
    // A key not measured enough yet is taken to be as fast as the fastest, so new keys get tried.
    const measured = (slot: Slot) => (slot.latencySamples >= MIN_LATENCY_SAMPLES ? slot.latency : null);
    const known = this.slots.map(measured).filter((latency): latency is number => latency !== null);
    const optimistic = known.length > 0 ? Math.min(...known) : 0;
    // Expected time to a good answer: latency stretched by how often the key fails.
    const score = (slot: Slot) => (measured(slot) ?? optimistic) / Math.max(0.05, 1 - slot.errorRate);
    const best = Math.min(...pool.map(score));
    const staleBefore = this.sequence - this.slots.length * STALE_AFTER_CHOICES_PER_KEY;
    pool = pool.filter((slot) => score(slot) <= best * NEAR_BEST + NEAR_BEST_SLACK_MS || slot.lastUsed < staleBefore);
    return pool.reduce((a, b) => (a.lastUsed <= b.lastUsed ? a : b));
  }

  private noKeyError(lastError: unknown, failures: number): Error {
    if (failures >= this.options.maxAttempts) return new AiServiceUnavailableError(undefined, lastError);
    const now = Date.now();
    const regular = this.slots.filter((slot) => !slot.fallback);
    const considered = regular.length > 0 ? regular : this.slots;
    if (considered.every((slot) => slot.coolingUntil > now)) {
      return new QuotaExceededError(Math.min(...considered.map((slot) => slot.coolingUntil)) - now, lastError);
    }
    return new AiServiceUnavailableError(undefined, lastError);
  }

  private async attempt(
    slot: Slot,
    request: GenerationRequest,
    signal: AbortSignal | undefined,
  ): Promise<GeneratedMeme> {
    // One controller per attempt, aborted by its timeout or by the caller. Linked by hand rather than with
    // AbortSignal.any, so a long-lived caller signal (a worker's shutdown) collects no listeners.
    const attempt = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      attempt.abort(new DOMException(`No answer within ${this.options.attemptTimeoutMs} ms`, 'TimeoutError'));
    }, this.options.attemptTimeoutMs);
    const onCallerAbort = () => attempt.abort(signal?.reason);
    signal?.addEventListener('abort', onCallerAbort, { once: true });
    const attemptSignal = attempt.signal;
    slot.inFlight += 1;
    slot.lastUsed = ++this.sequence;
    const started = performance.now();
    try {
      const meme = await slot.breaker.execute(async () => {
        try {
          // Raced against the signal too, so a provider that ignores it cannot hold the attempt past its timeout.
          return await abortable(slot.member.provider.generate(request, attemptSignal), attemptSignal);
        } catch (error) {
          if (signal?.aborted) throw new CallerAborted('The caller gave up');
          if (timedOut && !(error instanceof ProviderUnavailableError && error.timedOut)) {
            throw new ProviderUnavailableError(
              `${slot.provider} did not answer within ${this.options.attemptTimeoutMs} ms`,
              slot.provider,
              {
                timedOut: true,
              },
            );
          }
          throw error;
        }
      });
      this.succeeded(slot, performance.now() - started);
      return meme;
    } catch (error) {
      this.failed(slot, error, performance.now() - started);
      throw error;
    } finally {
      slot.inFlight -= 1;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onCallerAbort);
    }
  }

  private succeeded(slot: Slot, latency: number): void {
    const alpha = this.options.ewmaAlpha;
    slot.successes += 1;
    slot.lastOutcome = 'success';
    slot.latency = slot.latency === null ? latency : slot.latency + alpha * (latency - slot.latency);
    slot.latencySamples += 1;
    slot.errorRate *= 1 - alpha;
  }

  private failed(slot: Slot, error: unknown, elapsed: number): void {
    if (error instanceof BrokenCircuitError || error instanceof IsolatedCircuitError || error instanceof CallerAborted)
      return;
    if (error instanceof QuotaError) {
      const fallbackRest = error.kind === 'quota' ? this.options.quotaCooldownMs : this.options.rateCooldownMs;
      const rest = Math.max(MIN_COOLDOWN_MS, error.retryAfterMs ?? fallbackRest);
      slot.throttled += 1;
      slot.coolingUntil = Math.max(slot.coolingUntil, Date.now() + rest);
      this.log.warn(
        { key: slot.id, kind: error.kind, coolDownMs: rest, status: error.status },
        'AI key throttled, cooling down',
      );
      return;
    }
    const alpha = this.options.ewmaAlpha;
    slot.failures += 1;
    slot.lastOutcome = 'failure';
    slot.errorRate += alpha * (1 - slot.errorRate);
    // A timeout says the key is slow, which the latency average should know too.
    if (error instanceof ProviderUnavailableError && error.timedOut) {
      slot.latency = slot.latency === null ? elapsed : slot.latency + alpha * (elapsed - slot.latency);
      slot.latencySamples += 1;
    }
    this.log.warn({ key: slot.id, error: describe(error) }, 'AI provider attempt failed');
  }
}

/** What a log line says about an error: our messages are redacted at the source, and no raw upstream object is logged. */
function describe(error: unknown): { type: string; message: string; status?: number } {
  if (!(error instanceof Error)) return { type: typeof error, message: 'non-error thrown' };
  const status = (error as { status?: unknown }).status;
  // Adapters redact their own messages; anything else still goes through the key-shape filter.
  return { type: error.name, message: redact(error.message, []), ...(typeof status === 'number' ? { status } : {}) };
}

function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
