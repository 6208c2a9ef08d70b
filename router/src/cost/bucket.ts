import { redisScript, withFallback } from '@memegraph/service-kit';
import type { SharedState } from '../state/shared';

export interface BucketState {
  /** Whether the points were taken. */
  allowed: boolean;
  /** Points in the bucket after the call. */
  available: number;
  /** When refused: how long until enough points are back. */
  retryAfterMs: number;
}

export interface BucketLimits {
  capacity: number;
  restorePerSecond: number;
}

/**
 * A leaky bucket of cost points per viewer: an operation takes its
 * estimate up front and gets back what it did not use.
 */
export interface CostBucket {
  take(key: string, points: number, limits: BucketLimits): Promise<BucketState>;
  /** Whether `points` could be taken now, taking none. */
  check(key: string, points: number, limits: BucketLimits): Promise<BucketState>;
  refund(key: string, points: number, limits: BucketLimits): Promise<BucketState>;
  peek(key: string, limits: BucketLimits): Promise<BucketState>;
}

// One script for all four: refill by elapsed time (Redis' own clock, so
// every router agrees), then take, check, refund or just look — atomically.
const BUCKET = redisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local capacity = tonumber(ARGV[2])
local rate = tonumber(ARGV[3]) / 1000
local stored = redis.call('HMGET', KEYS[1], 'points', 'at')
local points = tonumber(stored[1]) or capacity
local at = tonumber(stored[2]) or now
points = math.min(capacity, points + math.max(0, now - at) * rate)
local mode = ARGV[1]
local amount = tonumber(ARGV[4])
local allowed = 1
local retry = 0
if mode == 'take' or mode == 'check' then
  if amount > points then allowed = 0; retry = math.ceil((amount - points) / rate)
  elseif mode == 'take' then points = points - amount end
elseif mode == 'refund' then
  points = math.min(capacity, points + amount)
end
redis.call('HSET', KEYS[1], 'points', tostring(points), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - points) / rate) + 1000)
return {allowed, tostring(points), retry}
`);

class RedisCostBucket implements CostBucket {
  constructor(
    private readonly redis: NonNullable<SharedState['redis']>,
    private readonly prefix: string,
  ) {}

  private async run(mode: string, key: string, points: number, limits: BucketLimits): Promise<BucketState> {
    const [allowed, available, retry] = (await BUCKET(this.redis, [`${this.prefix}${key}`], [mode, limits.capacity, limits.restorePerSecond, points])) as [number, string, number];
    return { allowed: allowed === 1, available: Number(available), retryAfterMs: retry };
  }

  take = (key: string, points: number, limits: BucketLimits) => this.run('take', key, points, limits);
  check = (key: string, points: number, limits: BucketLimits) => this.run('check', key, points, limits);
  refund = (key: string, points: number, limits: BucketLimits) => this.run('refund', key, points, limits);
  peek = (key: string, limits: BucketLimits) => this.run('peek', key, 0, limits);
}

class MemoryCostBucket implements CostBucket {
  private readonly buckets = new Map<string, { points: number; at: number }>();

  private run(mode: 'take' | 'check' | 'refund' | 'peek', key: string, amount: number, limits: BucketLimits): BucketState {
    const now = Date.now();
    const stored = this.buckets.get(key) ?? { points: limits.capacity, at: now };
    const rate = limits.restorePerSecond / 1000;
    let points = Math.min(limits.capacity, stored.points + Math.max(0, now - stored.at) * rate);
    let allowed = true;
    let retryAfterMs = 0;
    if (mode === 'take' || mode === 'check') {
      if (amount > points) {
        allowed = false;
        retryAfterMs = Math.ceil((amount - points) / rate);
      } else if (mode === 'take') points -= amount;
    } else if (mode === 'refund') {
      points = Math.min(limits.capacity, points + amount);
    }
    if (points >= limits.capacity) this.buckets.delete(key);
    else this.buckets.set(key, { points, at: now });
    return { allowed, available: points, retryAfterMs };
  }

  take = async (key: string, points: number, limits: BucketLimits) => this.run('take', key, points, limits);
  check = async (key: string, points: number, limits: BucketLimits) => this.run('check', key, points, limits);
  refund = async (key: string, points: number, limits: BucketLimits) => this.run('refund', key, points, limits);
  peek = async (key: string, limits: BucketLimits) => this.run('peek', key, 0, limits);
}

export function createCostBucket(state: SharedState): CostBucket {
  const memory = new MemoryCostBucket();
  if (!state.redis) return memory;
  return withFallback<CostBucket>(new RedisCostBucket(state.redis, state.prefix), memory, (e) => state.fellBack('cost bucket', e));
}
