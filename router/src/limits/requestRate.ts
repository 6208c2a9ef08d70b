import { redisScript, withFallback } from '@memegraph/service-kit';
import type { SharedState } from '../state/shared';

export interface WindowHit {
  /** Hits in the current window, this one included. */
  count: number;
  /** When the window ends (epoch ms). */
  resetAt: number;
}

/** Fixed-window request counters: one window per key, started by its first hit. */
export interface WindowCounter {
  hit(key: string, windowMs: number): Promise<WindowHit>;
}

// INCR and PEXPIRE in one step, so a window can never lose its expiry.
const HIT = redisScript(`
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
`);

class RedisWindowCounter implements WindowCounter {
  constructor(private readonly state: SharedState & { redis: NonNullable<SharedState['redis']> }) {}

  async hit(key: string, windowMs: number): Promise<WindowHit> {
    const [count, ttl] = (await HIT(this.state.redis, [`${this.state.prefix}${key}`], [windowMs])) as [number, number];
    return { count, resetAt: Date.now() + ttl };
  }
}

class MemoryWindowCounter implements WindowCounter {
  private readonly windows = new Map<string, WindowHit>();
  private sweeps = 0;

  async hit(key: string, windowMs: number): Promise<WindowHit> {
    const now = Date.now();
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) {
      window = { count: 0, resetAt: now + windowMs };
      this.windows.set(key, window);
    }
    window.count++;
    // Drop expired windows now and then so idle viewers do not accumulate.
    if (++this.sweeps % 10_000 === 0) {
      for (const [k, w] of this.windows) if (w.resetAt <= now) this.windows.delete(k);
    }
    return { ...window };
  }
}

export function createWindowCounter(state: SharedState): WindowCounter {
  const memory = new MemoryWindowCounter();
  if (!state.redis) return memory;
  return withFallback<WindowCounter>(new RedisWindowCounter({ ...state, redis: state.redis }), memory, (e) => state.fellBack('request rate', e));
}
