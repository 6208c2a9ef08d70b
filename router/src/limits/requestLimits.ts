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
 * operations (the window gives them back when the day refuses them: a
 * refused request takes nothing), then the cost bucket's check when both
 * did and a bucket is given: the same Lua steps as the three stores'
 * scripts (lua.ts), for each of the checks of one batch in one call (see
 * `createRequestLimits`).
 * ARGV: the number of checks, then per check its number of keys (2, or 3
 * with the bucket), window ms, operations, window limit, quota ms, quota,
 * and with the bucket its capacity, restore per second and points; KEYS: per
 * check its window, quota and bucket keys. A check's keys share the viewer's
 * hash tag (keys.ts), and a batch on a Redis Cluster holds one viewer's
 * checks only, so every call is within one slot. Returns per check: window
 * count, window ttl, window allowed, then quota count and allowed, then
 * bucket allowed, points and retry, each group only when reached.
 */
const LIMITS = redisScript(`${ADMIT}${BUCKET}
local replies = {}
local a, k = 2, 1
for c = 1, tonumber(ARGV[1]) do
  local keys = tonumber(ARGV[a])
  local n = tonumber(ARGV[a + 2])
  local count, ttl, allowed = admit(KEYS[k], n, tonumber(ARGV[a + 3]), tonumber(ARGV[a + 1]))
  if allowed == 0 then
    replies[c] = {count, ttl, 0}
  else
    local used, _, admitted = admit(KEYS[k + 1], n, tonumber(ARGV[a + 5]), tonumber(ARGV[a + 4]))
    if admitted == 0 then count = redis.call('DECRBY', KEYS[k], n) end
    if admitted == 0 or keys < 3 then
      replies[c] = {count, ttl, 1, used, admitted}
    else
      local fits, points, retry = bucket(KEYS[k + 2], 'check', tonumber(ARGV[a + 6]), tonumber(ARGV[a + 7]), tonumber(ARGV[a + 8]))
      replies[c] = {count, ttl, 1, used, 1, fits, points, retry}
    end
  end
  a = a + (keys < 3 and 6 or 9)
  k = k + keys
end
return replies
`);

const DAY_MS = 86_400_000;
/** The request window's length: a tier's `requestsPerMinute`. */
const REQUEST_WINDOW_MS = 60_000;

/**
 * The check of `operations` operations of a viewer against its tier's window
 * and day's quota (and, when given, the cost bucket): what a request and a
 * subscription's start are both counted by.
 */
export function requestCheck(
  viewerKey: string,
  limits: TierLimits,
  operations: number,
  bucket?: RequestLimitCheck['bucket'],
): RequestLimitCheck {
  return {
    viewerKey,
    operations,
    window: { ms: REQUEST_WINDOW_MS, limit: limits.requestsPerMinute },
    dailyQuota: limits.dailyRequestQuota,
    bucket,
  };
}

interface Pending {
  check: RequestLimitCheck;
  resolve: (result: RequestLimitResult | Promise<RequestLimitResult>) => void;
}

/**
 * A request's limit checks: one script on Redis; without Redis, or when it
 * fails, the window counter, usage meter and cost bucket each in turn (each
 * with its own fallback to this process), as before.
 *
 * Checks are sent in batches, one call of the script each, with one call
 * in flight at a time: the checks of the requests read in one turn of the
 * event loop go once that turn's input is read (setImmediate), and those
 * made while a call is out go together as soon as its reply is in. One
 * command to encode, one write, one script run and one reply for all of
 * them, where a command each cost a socket write each (ioredis flushes its
 * pipeline on the next tick, and each request's tick is its own); an idle
 * router sends a lone check at once. Each check's result is what it would
 * be alone: the script runs them in the order made. On a Redis Cluster a
 * batch holds the checks of one viewer (one slot), one call in flight per
 * viewer.
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
    if (!today.allowed) {
      // The day refused them: the window gives back what it counted, as the script does.
      const count = await stores.window.release(windowKey(check.viewerKey), check.operations);
      return { window: { ...window, count }, today };
    }
    if (!check.bucket) return { window, today };
    return {
      window,
      today,
      bucket: await stores.bucket.check(bucketKey(check.viewerKey), check.bucket.points, check.bucket),
    };
  };
  const redis = stores.redis;
  if (!redis) return oneByOne;
  const { prefix } = stores;

  // Never rejects: a batch that fails in any way (Redis away, a reply of another shape) is answered by the stores in turn.
  const send = async (batch: Pending[]): Promise<void> => {
    let answered = 0;
    try {
      const day = utcDay();
      const keys: string[] = [];
      const args: (string | number)[] = [batch.length];
      for (const { check } of batch) {
        keys.push(`${prefix}${windowKey(check.viewerKey)}`, `${prefix}${quotaKey(day, check.viewerKey)}`);
        args.push(
          check.bucket ? 3 : 2,
          check.window.ms,
          check.operations,
          check.window.limit,
          2 * DAY_MS,
          check.dailyQuota,
        );
        if (check.bucket) {
          keys.push(`${prefix}${bucketKey(check.viewerKey)}`);
          args.push(check.bucket.capacity, check.bucket.restorePerSecond, check.bucket.points);
        }
      }
      const replies = (await LIMITS(redis, keys, args)) as (number | string)[][];
      const now = Date.now();
      for (; answered < batch.length; answered++) batch[answered]!.resolve(resultOf(replies[answered]!, now));
    } catch (error) {
      stores.fellBack('request limits', error);
      for (const { check, resolve } of batch.slice(answered)) resolve(oneByOne(check));
    }
  };

  // Checks waiting for a call: all of them on one Redis, one viewer's each on a Cluster; one call in flight each.
  const queues = new Map<string, { waiting: Pending[]; sending: boolean }>();
  let scheduled = false;
  const start = (key: string, queue: { waiting: Pending[]; sending: boolean }) => {
    if (queue.waiting.length === 0) {
      queues.delete(key);
      return;
    }
    const batch = queue.waiting;
    queue.waiting = [];
    queue.sending = true;
    void send(batch).finally(() => {
      queue.sending = false;
      start(key, queue);
    });
  };
  const flush = () => {
    scheduled = false;
    for (const [key, queue] of queues) if (!queue.sending) start(key, queue);
  };
  const queueOf = redis.isCluster ? (check: RequestLimitCheck) => check.viewerKey : () => '';

  return (check: RequestLimitCheck): Promise<RequestLimitResult> =>
    new Promise((resolve) => {
      const key = queueOf(check);
      let queue = queues.get(key);
      if (!queue) queues.set(key, (queue = { waiting: [], sending: false }));
      queue.waiting.push({ check, resolve });
      if (!queue.sending && !scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
}

function resultOf(reply: (number | string)[], now: number): RequestLimitResult {
  const window = { count: Number(reply[0]), resetAt: now + Number(reply[1]), allowed: reply[2] === 1 };
  if (reply.length <= 3) return { window };
  const today = { count: Number(reply[3]), allowed: reply[4] === 1 };
  if (reply.length <= 5) return { window, today };
  return {
    window,
    today,
    bucket: { allowed: reply[5] === 1, available: Number(reply[6]), retryAfterMs: Number(reply[7]) },
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
