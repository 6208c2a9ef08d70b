import { ErrorCode, HttpError, redisScript, type RedisClient, type TierLimits } from '@memegraph/service-kit';
import type { BucketLimits, BucketState, CostBucket } from '../cost/bucket';
import type { UsageMeter } from '../usage/meter';
import { bucketKey, quotaKey, utcDay, windowKey } from './keys';
import { ADMIT, BUCKET } from './lua';
import type { WindowCounter, WindowHit } from './requestRate';

export interface RequestLimitCheck {
  viewerKey: string;
  /** Operations the request holds (a batch counts each). */
  operations: number;
  window: { ms: number; limit: number };
  dailyQuota: number;
  /** The cost bucket, checked (nothing taken) for these points when the request's estimate is known before Apollo. */
  bucket?: BucketLimits & { points: number };
}

export interface RequestLimitResult {
  window: WindowHit;
  /** The day's count; absent when the window refused (the quota was not asked). */
  today?: { count: number; allowed: boolean };
  /** Absent unless asked, and unless the window and quota admitted the request. */
  bucket?: BucketState;
}

/**
 * The request window, then the day's quota when the window admitted the
 * operations, then the cost bucket's check when both did and a bucket is
 * given: the same Lua steps as the three stores' scripts (lua.ts), in one
 * round trip.
 * The keys share the viewer's hash tag (keys.ts), so this runs on a Redis
 * Cluster too. Returns window count, window ttl, window allowed, then
 * quota count and allowed, then bucket allowed, points and retry, each
 * group only when reached.
 */
const LIMITS = redisScript(`${ADMIT}${BUCKET}
local n = tonumber(ARGV[2])
local count, ttl, allowed = admit(KEYS[1], n, tonumber(ARGV[3]), tonumber(ARGV[1]))
if allowed == 0 then return {count, ttl, 0} end
local used, _, admitted = admit(KEYS[2], n, tonumber(ARGV[5]), tonumber(ARGV[4]))
if admitted == 0 or #KEYS < 3 then return {count, ttl, 1, used, admitted} end
local fits, points, retry = bucket(KEYS[3], 'check', tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]))
return {count, ttl, 1, used, 1, fits, points, retry}
`);

const DAY_MS = 86_400_000;

/**
 * A request's limit checks: one script on Redis; without Redis, or when it
 * fails, the window counter, usage meter and cost bucket each in turn (each
 * with its own fallback to this process), as before.
 */
export function createRequestLimits(stores: {
  redis: RedisClient | null;
  prefix: string;
  fellBack: (what: string, error: unknown) => void;
  window: WindowCounter;
  usage: UsageMeter;
  bucket: CostBucket;
}) {
  const oneByOne = async (check: RequestLimitCheck): Promise<RequestLimitResult> => {
    const window = await stores.window.hit(
      windowKey(check.viewerKey),
      check.window.ms,
      check.operations,
      check.window.limit,
    );
    if (!window.allowed) return { window };
    const today = await stores.usage.countRequest(check.viewerKey, check.operations, check.dailyQuota);
    if (!today.allowed || !check.bucket) return { window, today };
    return {
      window,
      today,
      bucket: await stores.bucket.check(bucketKey(check.viewerKey), check.bucket.points, check.bucket),
    };
  };
  const redis = stores.redis;
  if (!redis) return oneByOne;
  const { prefix } = stores;
  return async (check: RequestLimitCheck): Promise<RequestLimitResult> => {
    const keys = [`${prefix}${windowKey(check.viewerKey)}`, `${prefix}${quotaKey(utcDay(), check.viewerKey)}`];
    const args: (string | number)[] = [
      check.window.ms,
      check.operations,
      check.window.limit,
      2 * DAY_MS,
      check.dailyQuota,
    ];
    if (check.bucket) {
      keys.push(`${prefix}${bucketKey(check.viewerKey)}`);
      args.push(check.bucket.capacity, check.bucket.restorePerSecond, check.bucket.points);
    }
    let reply: (number | string)[];
    try {
      reply = (await LIMITS(redis, keys, args)) as (number | string)[];
    } catch (error) {
      stores.fellBack('request limits', error);
      return oneByOne(check);
    }
    const window = { count: Number(reply[0]), resetAt: Date.now() + Number(reply[1]), allowed: reply[2] === 1 };
    if (reply.length <= 3) return { window };
    const today = { count: Number(reply[3]), allowed: reply[4] === 1 };
    if (reply.length <= 5) return { window, today };
    return {
      window,
      today,
      bucket: { allowed: reply[5] === 1, available: Number(reply[6]), retryAfterMs: Number(reply[7]) },
    };
  };
}

export type RequestLimits = ReturnType<typeof createRequestLimits>;

const nextUtcMidnight = () => {
  const now = new Date();
  return Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
};

/** The rate headers every answer carries, and the refusal when the window or the day's quota refused the request. */
export function limitOutcome(
  checked: RequestLimitResult,
  limits: TierLimits,
  operations: number,
): { rateHeaders: Record<string, string>; refusal?: HttpError } {
  const { window } = checked;
  const rateHeaders = {
    'x-ratelimit-limit': String(limits.requestsPerMinute),
    'x-ratelimit-remaining': String(Math.max(0, limits.requestsPerMinute - window.count)),
    'x-ratelimit-reset': String(Math.ceil(window.resetAt / 1000)),
  };
  if (!window.allowed) {
    const retryAfter = String(Math.max(1, Math.ceil((window.resetAt - Date.now()) / 1000)));
    const left = Math.max(0, limits.requestsPerMinute - window.count);
    const message =
      operations > 1
        ? `A batch of ${operations} operations is more than the ${left} left of ${limits.requestsPerMinute} a minute`
        : `More than ${limits.requestsPerMinute} requests a minute`;
    return {
      rateHeaders,
      refusal: new HttpError(429, ErrorCode.RATE_LIMIT_EXCEEDED, message, {
        ...rateHeaders,
        'retry-after': retryAfter,
      }),
    };
  }
  if (!checked.today?.allowed) {
    const retryAfter = String(Math.ceil((nextUtcMidnight() - Date.now()) / 1000));
    const refusal = new HttpError(
      429,
      ErrorCode.RATE_LIMIT_EXCEEDED,
      `The daily quota of ${limits.dailyRequestQuota} requests is spent`,
      { ...rateHeaders, 'retry-after': retryAfter },
      { quota: 'daily' },
    );
    return { rateHeaders, refusal };
  }
  return { rateHeaders };
}
