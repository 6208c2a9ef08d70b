import { LRUCache } from 'lru-cache';
import { redisScript, withFallback } from '@memegraph/service-kit';
import type { SharedState } from '../state/shared';

export interface CredentialThrottleOptions {
  /** Credentials an address may get refused in one window before it is refused outright. */
  failuresPerAddress: number;
  windowMs: number;
}

/** The answer to `begin`: go ahead, or wait `retryAfterMs`. */
export type Attempt = { allowed: true } | { allowed: false; retryAfterMs: number };

/**
 * Failed credentials per client address, shared by every router. An
 * attempt is counted as a failure when it starts (`begin`) and taken back
 * when the credential proves good (`succeeded`): so a burst of concurrent
 * guesses is bounded too, not only guesses that have already failed. Each
 * address has a fixed window started by its first failure.
 */
export interface CredentialThrottle {
  begin(address: string): Promise<Attempt>;
  succeeded(address: string): Promise<void>;
}

// INCR and PEXPIRE in one step, so a window can never lose its expiry.
const BEGIN = redisScript(`
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
`);

// Only a window still open is given back its count: a new one must not start below zero.
const SUCCEEDED = redisScript(`
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then redis.call('DECR', KEYS[1]) end
return 0
`);

class RedisCredentialThrottle implements CredentialThrottle {
  constructor(
    private readonly state: SharedState & { redis: NonNullable<SharedState['redis']> },
    private readonly options: CredentialThrottleOptions,
  ) {}

  async begin(address: string): Promise<Attempt> {
    const [count, ttl] = (await BEGIN(this.state.redis, [this.key(address)], [this.options.windowMs])) as [
      number,
      number,
    ];
    return count > this.options.failuresPerAddress ? { allowed: false, retryAfterMs: ttl } : { allowed: true };
  }

  async succeeded(address: string): Promise<void> {
    await SUCCEEDED(this.state.redis, [this.key(address)], []);
  }

  private key(address: string): string {
    return `${this.state.prefix}auth-failures:${address}`;
  }
}

class MemoryCredentialThrottle implements CredentialThrottle {
  /** Bounded: a flood from many addresses must not grow the process without end. */
  private readonly windows = new LRUCache<string, { count: number; endsAt: number }>({ max: 100_000 });

  constructor(private readonly options: CredentialThrottleOptions) {}

  async begin(address: string): Promise<Attempt> {
    const now = Date.now();
    let window = this.windows.get(address);
    if (!window || window.endsAt <= now) {
      window = { count: 0, endsAt: now + this.options.windowMs };
      this.windows.set(address, window);
    }
    window.count++;
    return window.count > this.options.failuresPerAddress
      ? { allowed: false, retryAfterMs: window.endsAt - now }
      : { allowed: true };
  }

  async succeeded(address: string): Promise<void> {
    const window = this.windows.get(address);
    if (window && window.endsAt > Date.now() && window.count > 0) window.count--;
  }
}

export function createCredentialThrottle(state: SharedState, options: CredentialThrottleOptions): CredentialThrottle {
  const memory = new MemoryCredentialThrottle(options);
  if (!state.redis) return memory;
  return withFallback<CredentialThrottle>(
    new RedisCredentialThrottle({ ...state, redis: state.redis }, options),
    memory,
    (e) => state.fellBack('credential throttle', e),
  );
}
