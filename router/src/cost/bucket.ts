import { redisScript, withFallback } from '@memegraph/service-kit';
import { BUCKET } from '../limits/lua';
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

// One script for all four (the bucket step of limits/lua.ts), atomically.
const BUCKET_SCRIPT = redisScript(`${BUCKET}
local allowed, points, retry = bucket(KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))
return {allowed, points, retry}
`);

class RedisCostBucket implements CostBucket {
  constructor(
    private readonly redis: NonNullable<SharedState['redis']>,
    private readonly prefix: string,
  ) {}

  private async run(mode: string, key: string, points: number, limits: BucketLimits): Promise<BucketState> {
    const [allowed, available, retry] = (await BUCKET_SCRIPT(
      this.redis,
      [`${this.prefix}${key}`],
      [mode, limits.capacity, limits.restorePerSecond, points],
    )) as [number, string, number];
    return { allowed: allowed === 1, available: Number(available), retryAfterMs: retry };
  }

  take = (key: string, points: number, limits: BucketLimits) => this.run('take', key, points, limits);
  check = (key: string, points: number, limits: BucketLimits) => this.run('check', key, points, limits);
  refund = (key: string, points: number, limits: BucketLimits) => this.run('refund', key, points, limits);
  peek = (key: string, limits: BucketLimits) => this.run('peek', key, 0, limits);
}

class MemoryCostBucket implements CostBucket {
  private readonly buckets = new Map<string, { points: number; at: number }>();

  private run(
    mode: 'take' | 'check' | 'refund' | 'peek',
    key: string,
    amount: number,
    limits: BucketLimits,
  ): BucketState {
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
  return withFallback<CostBucket>(new RedisCostBucket(state.redis, state.prefix), memory, (e) =>
    state.fellBack('cost bucket', e),
  );
}
