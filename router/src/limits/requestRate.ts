import { redisScript, withFallback } from '@memegraph/service-kit';
import type { SharedState } from '../state/shared';
import { ADMIT } from './lua';

export interface WindowHit {
  /** Operations counted in the current window, these included when admitted. */
  count: number;
  /** When the window ends (epoch ms). */
  resetAt: number;
  /** Whether the operations fit under the limit (and were counted, unless given back by `release`). */
  allowed: boolean;
}

/**
 * Fixed-window operation counters: one window per key, started by its first
 * hit. A hit of `n` operations (a batch) is admitted whole when all of them
 * fit under the limit, and then counted; otherwise it is refused and counts
 * nothing, so what is left of the window stays usable by smaller requests.
 */
export interface WindowCounter {
  hit(key: string, windowMs: number, operations: number, limit: number): Promise<WindowHit>;
  /** Gives back operations a hit counted (another limit refused them); returns the window's count. */
  release(key: string, operations: number): Promise<number>;
}

// Check, INCRBY and PEXPIRE in one step: exact across routers, and a window never loses its expiry.
const HIT = redisScript(`${ADMIT}
local count, ttl, allowed = admit(KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[1]))
return {count, ttl, allowed}
`);

// Only a live window gives back: one that ended meanwhile starts again from nothing.
const RELEASE = redisScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('DECRBY', KEYS[1], ARGV[1])
`);

class RedisWindowCounter implements WindowCounter {
  constructor(private readonly state: SharedState & { redis: NonNullable<SharedState['redis']> }) {}

  async hit(key: string, windowMs: number, operations: number, limit: number): Promise<WindowHit> {
    const [count, ttl, allowed] = (await HIT(
      this.state.redis,
      [`${this.state.prefix}${key}`],
      [windowMs, operations, limit],
    )) as [number, number, number];
    return { count, resetAt: Date.now() + ttl, allowed: allowed === 1 };
  }

  async release(key: string, operations: number): Promise<number> {
    return (await RELEASE(this.state.redis, [`${this.state.prefix}${key}`], [operations])) as number;
  }
}

class MemoryWindowCounter implements WindowCounter {
  private readonly windows = new Map<string, WindowHit>();
  private sweeps = 0;

  async hit(key: string, windowMs: number, operations: number, limit: number): Promise<WindowHit> {
    const now = Date.now();
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) {
      window = { count: 0, resetAt: now + windowMs, allowed: true };
      this.windows.set(key, window);
    }
    window.allowed = window.count + operations <= limit;
    if (window.allowed) window.count += operations;
    // Drop expired windows now and then so idle viewers do not accumulate.
    if (++this.sweeps % 10_000 === 0) {
      for (const [k, w] of this.windows) if (w.resetAt <= now) this.windows.delete(k);
    }
    return { ...window };
  }

  async release(key: string, operations: number): Promise<number> {
    const window = this.windows.get(key);
    if (!window || window.resetAt <= Date.now()) return 0;
    window.count = Math.max(0, window.count - operations);
    return window.count;
  }
}

export function createWindowCounter(state: SharedState): WindowCounter {
  const memory = new MemoryWindowCounter();
  if (!state.redis) return memory;
  return withFallback<WindowCounter>(new RedisWindowCounter({ ...state, redis: state.redis }), memory, (e) =>
    state.fellBack('request rate', e),
  );
}
