import { randomBytes } from 'node:crypto';
import { redisScript, type RedisClient } from '@memegraph/service-kit';

/** The span the per-minute generation limit counts over. */
export const RATE_WINDOW_MS = 60_000;

export interface RateDecision {
  allowed: boolean;
  /** When refused: how long until the oldest generation in the window leaves it. */
  retryAfterMs: number;
}

/**
 * Generations per user in any 60 s (a sliding window, not a calendar minute:
 * 100 at :59 leave none for :00), counted where every instance sees them.
 */
export interface GenerationRateLimit {
  /** Takes one of the user's `limit` generations of the last minute; a refused attempt takes none. */
  take(userId: string, limit: number): Promise<RateDecision>;
}

/** Milliseconds since the epoch. */
export type Clock = () => number;

// A log of the window's generations in one sorted set, trimmed, counted and added to in one
// step, so instances taking at once never admit more than the limit. One key, so one slot on
// a cluster. The time is the caller's when given (a test's clock), else Redis's own, so every
// instance agrees whatever their clocks say.
const TAKE = redisScript(`
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local retry = 1
if oldest[2] then retry = math.max(1, tonumber(oldest[2]) + window - now) end
return {0, retry}
`);

/**
 * In Redis when there is one; otherwise in this process (one instance only),
 * with the same window. `clock` is for tests; by default Redis's clock, or
 * this process's without Redis.
 */
export function createGenerationRateLimit(
  redis: RedisClient | null,
  prefix: string,
  clock?: Clock,
): GenerationRateLimit {
  if (redis) {
    return {
      async take(userId, limit) {
        // Each generation is its own member: two in the same millisecond both count.
        const member = randomBytes(8).toString('base64url');
        const [allowed, retry] = (await TAKE(
          redis,
          [`${prefix}ai-generations:${userId}`],
          [clock ? clock() : -1, RATE_WINDOW_MS, limit, member],
        )) as [number, number];
        return { allowed: allowed === 1, retryAfterMs: retry };
      },
    };
  }
  return new MemoryRateLimit(clock ?? Date.now);
}

class MemoryRateLimit implements GenerationRateLimit {
  /** Per user, the times of the generations in the window, oldest first. */
  private readonly logs = new Map<string, number[]>();
  private takes = 0;

  constructor(private readonly clock: Clock) {}

  async take(userId: string, limit: number): Promise<RateDecision> {
    const now = this.clock();
    const log = this.logs.get(userId) ?? [];
    while (log.length > 0 && log[0]! <= now - RATE_WINDOW_MS) log.shift();
    // Drop idle users now and then so they do not accumulate.
    if (++this.takes % 10_000 === 0) {
      for (const [id, times] of this.logs)
        if (times.length === 0 || times[times.length - 1]! <= now - RATE_WINDOW_MS) this.logs.delete(id);
    }
    if (log.length >= limit) {
      this.logs.set(userId, log);
      return { allowed: false, retryAfterMs: log.length > 0 ? Math.max(1, log[0]! + RATE_WINDOW_MS - now) : 1 };
    }
    log.push(now);
    this.logs.set(userId, log);
    return { allowed: true, retryAfterMs: 0 };
  }
}
