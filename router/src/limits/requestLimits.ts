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
 * did and a bucket is given: the steps of the three stores' scripts
 * (lua.ts), for each of the checks of one batch in one call (see
 * `createRequestLimits`), in the order made. Each key is read once and
 * written once, however many of the batch's checks ask it.
 *
 * The checks are grouped by viewer and limits, so what a batch sends grows
 * by three small numbers per check. ARGV: the quota's ms, the number of
 * groups, then per group its window ms, window limit, quota, bucket
 * capacity and restore per second, then per check its group, operations
 * and the bucket points to check ('' for none). KEYS: per group its window,
 * quota and bucket keys. A group's keys share the viewer's hash tag
 * (keys.ts), and a batch on a Redis Cluster holds one viewer's checks only,
 * so every call is within one slot. Returns one string, the checks' answers
 * joined by ';', each its numbers joined by ',': window count, window ttl,
 * window allowed, then quota count and allowed, then bucket allowed, points
 * and retry, each group of numbers only when reached.
 */
const LIMITS = redisScript(
  `${ADMIT}${BUCKET}
local windows, buckets = {}, {}
local function windowOf(key)
  local w = windows[key]
  if not w then w = windowLoad(key); windows[key] = w end
  return w
end
local function bucketOf(key)
  local b = buckets[key]
  if not b then b = bucketLoad(key); buckets[key] = b end
  return b
end
local quotaMs = tonumber(ARGV[1])
local groups = tonumber(ARGV[2])
-- Each group's keys and limits, read from KEYS and ARGV once, not once per check.
local group = {}
for g = 1, groups do
  local at = 3 + (g - 1) * 5
  group[g] = {
    window = KEYS[g * 3 - 2], quota = KEYS[g * 3 - 1], bucket = KEYS[g * 3],
    windowMs = tonumber(ARGV[at]), limit = tonumber(ARGV[at + 1]), dailyQuota = tonumber(ARGV[at + 2]),
    capacity = tonumber(ARGV[at + 3]), perSecond = tonumber(ARGV[at + 4]),
  }
end
local replies = {}
for a = 3 + groups * 5, #ARGV, 3 do
  local g = group[tonumber(ARGV[a])]
  local n = tonumber(ARGV[a + 1])
  local points = ARGV[a + 2]
  local w = windowOf(g.window)
  local count, ttl, allowed = windowAdmit(w, n, g.limit, g.windowMs)
  if allowed == 0 then
    replies[#replies + 1] = count .. ',' .. ttl .. ',0'
  else
    local used, _, admitted = windowAdmit(windowOf(g.quota), n, g.dailyQuota, quotaMs)
    if admitted == 0 then count = windowRelease(w, n) end
    if admitted == 0 or points == '' then
      replies[#replies + 1] = count .. ',' .. ttl .. ',1,' .. used .. ',' .. admitted
    else
      local fits, left, retry = bucketUse(bucketOf(g.bucket), 'check', g.capacity, g.perSecond, tonumber(points))
      replies[#replies + 1] = count .. ',' .. ttl .. ',1,' .. used .. ',1,' .. fits .. ',' .. left .. ',' .. retry
    end
  end
end
for _, w in pairs(windows) do windowStore(w) end
for _, b in pairs(buckets) do bucketStore(b) end
return table.concat(replies, ';')
`,
  { alone: true },
);

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
 * router sends a lone check at once. The call goes out as it is made, not
 * through ioredis's auto-pipeline: it already carries every check there
 * is, and would only pay for a pipeline and wait a tick. Each check's
 * result is what it would be alone: the script runs them in the order
 * made. On a Redis Cluster a batch holds the checks of one viewer (one
 * slot), one call in flight per viewer.
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
      const limits: (string | number)[] = [];
      const checks: (string | number)[] = [];
      // Each viewer's groups, as [a check with the group's limits, the group's number]: mostly one per viewer.
      const groups = new Map<string, Array<[RequestLimitCheck, number]>>();
      let count = 0;
      for (const { check } of batch) {
        const viewer = check.viewerKey;
        let ofViewer = groups.get(viewer);
        if (!ofViewer) groups.set(viewer, (ofViewer = []));
        let group = ofViewer.find(([first]) => sameLimits(first, check))?.[1];
        if (group === undefined) {
          ofViewer.push([check, (group = ++count)]);
          keys.push(
            `${prefix}${windowKey(viewer)}`,
            `${prefix}${quotaKey(day, viewer)}`,
            `${prefix}${bucketKey(viewer)}`,
          );
          limits.push(
            check.window.ms,
            check.window.limit,
            check.dailyQuota,
            check.bucket?.capacity ?? 0,
            check.bucket?.restorePerSecond ?? 0,
          );
        }
        checks.push(group, check.operations, check.bucket ? check.bucket.points : '');
      }
      const reply = (await LIMITS(redis, keys, [2 * DAY_MS, count, ...limits, ...checks])) as string;
      const replies = reply.split(';');
      if (replies.length !== batch.length) throw new Error(`${replies.length} answers to ${batch.length} checks`);
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

/** Whether two checks of one viewer are counted with the same limits (one group of the script's call). */
const sameLimits = (a: RequestLimitCheck, b: RequestLimitCheck): boolean =>
  a.window.ms === b.window.ms &&
  a.window.limit === b.window.limit &&
  a.dailyQuota === b.dailyQuota &&
  a.bucket?.capacity === b.bucket?.capacity &&
  a.bucket?.restorePerSecond === b.bucket?.restorePerSecond;

/** One check's answer in the script's reply: its numbers joined by ','. */
function resultOf(reply: string, now: number): RequestLimitResult {
  const n = reply.split(',');
  const window = { count: Number(n[0]), resetAt: now + Number(n[1]), allowed: n[2] === '1' };
  if (n.length <= 3) return { window };
  const today = { count: Number(n[3]), allowed: n[4] === '1' };
  if (n.length <= 5) return { window, today };
  return {
    window,
    today,
    bucket: { allowed: n[5] === '1', available: Number(n[6]), retryAfterMs: Number(n[7]) },
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
