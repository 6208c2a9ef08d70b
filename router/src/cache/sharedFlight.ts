import { randomUUID } from 'node:crypto';
import { redisScript } from '@memegraph/service-kit';
import type { SharedState } from '../state/shared';
import type { CachedResponse } from './store';

/**
 * Deletes the lock only while it is still this router's (it may have expired
 * and been taken by another), and announces the execution's end: one round trip.
 */
const RELEASE = redisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
`);

export interface SharedFlightsOptions {
  /**
   * How long a router may hold a key's execution, and so the longest any
   * other router waits for it before executing on its own: a router that
   * went away mid-execution holds nobody up for longer.
   */
  lockMs: number;
  /**
   * How often a waiting router checks that the lock is still held (1 s by
   * default): an end whose message it missed, or a Redis that stopped
   * answering, ends the wait then, not at the lock's time.
   */
  checkMs?: number;
  /** The fresh answer the response cache holds for a key, if any: what a waiting router is served. */
  read(key: string): Promise<CachedResponse | undefined>;
}

/** A claimed execution: released once its answer is stored (or nothing was). */
export interface Claim {
  release(): Promise<void>;
}

/**
 * Single flight across routers: the first router to miss a response-cache
 * key takes a short Redis lock on it (SET NX PX) and executes; routers that
 * miss it meanwhile wait for that execution (its end is announced on a
 * pub/sub channel) and read what it stored from the response cache. The
 * wait is bounded by the lock's time; an execution that stored nothing
 * (errors, partial data) lets them execute on their own, as does Redis
 * being away. A waiting router also checks the lock every second: a lock
 * gone whose end it did not hear (the message missed), or a Redis that no
 * longer answers, ends its wait then. Within a
 * router, cache/singleFlight.ts makes one request of a key claim it; the
 * others wait on that one.
 */
export class SharedFlights {
  private readonly channel: string;
  /** Keys this router waits for, and what to call when their execution ends. */
  private readonly waiting = new Map<string, Set<() => void>>();

  constructor(
    private readonly state: SharedState,
    private readonly options: SharedFlightsOptions,
  ) {
    this.channel = `${state.prefix}flight-done`;
    state.listen(this.channel, (key) => {
      for (const done of this.waiting.get(key) ?? []) done();
    });
  }

  private lockKey(key: string): string {
    return `${this.state.prefix}flight:${key}`;
  }

  /**
   * Claims `key`'s execution for this router: a Claim when it is this
   * router's to make (also when Redis is away: then nobody can wait on it),
   * undefined when another router is making it.
   */
  async claim(key: string): Promise<Claim | undefined> {
    const redis = this.state.redis;
    if (!redis) return { release: async () => undefined };
    const token = randomUUID();
    const lock = this.lockKey(key);
    const taken = await redis.set(lock, token, 'PX', this.options.lockMs, 'NX').catch((e: unknown) => {
      this.state.fellBack('response cache single flight', e);
      return 'OK' as const;
    });
    if (taken !== 'OK') return undefined;
    return {
      release: async () => {
        try {
          await RELEASE(redis, [lock], [token, this.channel, key]);
        } catch (error) {
          // Those waiting execute on their own once the lock's time is up.
          this.state.fellBack('response cache single flight', error);
        }
      },
    };
  }

  /**
   * Waits for another router's execution of `key`: the answer it stored, or
   * undefined when it stored none, or did not end within the lock's time.
   */
  async wait(key: string): Promise<CachedResponse | undefined> {
    const redis = this.state.redis;
    if (!redis) return undefined;
    let done!: () => void;
    const ended = new Promise<void>((resolve) => (done = resolve));
    let listeners = this.waiting.get(key);
    if (!listeners) this.waiting.set(key, (listeners = new Set()));
    listeners.add(done);
    const lock = this.lockKey(key);
    const timer = setTimeout(done, this.options.lockMs);
    timer.unref();
    const check = setInterval(() => {
      redis.exists(lock).then((held) => {
        if (!held) done();
      }, done);
    }, this.options.checkMs ?? 1_000);
    check.unref();
    try {
      // It may have ended before this router listened: then its answer is stored, or the lock is gone.
      const [stored, locked] = await Promise.all([this.options.read(key), redis.exists(lock).catch(() => 0)]);
      if (stored) return stored;
      if (!locked) return undefined;
      await ended;
      return await this.options.read(key);
    } finally {
      clearTimeout(timer);
      clearInterval(check);
      listeners.delete(done);
      if (listeners.size === 0 && this.waiting.get(key) === listeners) this.waiting.delete(key);
    }
  }
}
