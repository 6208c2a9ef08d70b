import { redisScript, withFallback, type InternalClient, type Logger, type RedisClient } from '@memegraph/service-kit';
import { ADMIT } from '../limits/lua';
import type { SharedState } from '../state/shared';
import { SHARDS, shardOf, shardTag } from '../state/shards';
import { quotaKey } from '../limits/keys';

export interface UsageEntry {
  userId: string;
  day: string;
  requests: number;
  costPoints: number;
}

const today = () => new Date().toISOString().slice(0, 10);
const DAY_MS = 86_400_000;

/**
 * Usage metering on the hot path without a database write per request:
 * counts go to Redis (or this process), and a background flush hands them
 * to the users subgraph in batches. The daily quota counter is separate
 * and never flushed, so every router sees the same total at once.
 */
export interface UsageMeter {
  /**
   * Counts `operations` (a batch counts each) against the daily `quota` when
   * they all fit; otherwise counts nothing. Returns the day's total and whether they fit.
   */
  countRequest(viewerKey: string, operations: number, quota: number): Promise<{ count: number; allowed: boolean }>;
  /** Records a finished request of a signed-in user, with the cost points it used. */
  record(userId: string, costPoints: number): Promise<void>;
  /** Moves pending counts to the users subgraph. */
  flush(): Promise<number>;
}

/**
 * Pops up to ARGV[2] pending counters from the dirty set (KEYS[1]) and reads
 * and deletes each, in one step: SPOP hands each counter to exactly one
 * router's flush, and counts arriving meanwhile go to the next one. Returns
 * member, requests, cost, member, … The counters' keys are ARGV[1] and the
 * member: the shard's hash tag, so the dirty set's slot.
 */
const TAKE = redisScript(`
local out = {}
for _, member in ipairs(redis.call('SPOP', KEYS[1], ARGV[2])) do
  local key = ARGV[1] .. member
  local counts = redis.call('HMGET', key, 'requests', 'cost')
  redis.call('DEL', key)
  table.insert(out, member)
  table.insert(out, counts[1] or '0')
  table.insert(out, counts[2] or '0')
end
return out
`);

/**
 * ARGV[2] more operations today (KEYS[1]) when they fit under the quota
 * ARGV[3]; the counter outlives its day by ARGV[1] ms. Returns the day's
 * total and whether they were counted.
 */
const COUNT = redisScript(`${ADMIT}
local count, _, allowed = admit(KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[1]))
return {count, allowed}
`);

/**
 * Adds ARGV[1] requests and ARGV[2] cost points to a user's day counter
 * (KEYS[1], kept ARGV[3] ms) and lists it (member ARGV[4]) in its shard's
 * dirty set (KEYS[2]).
 */
const ADD = redisScript(`
redis.call('HINCRBY', KEYS[1], 'requests', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'cost', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
`);

/**
 * Counters live in shards (see shards.ts): a user's day counter and the
 * dirty set that lists it share a hash tag, so recording is one script and
 * a flush is one script per shard, on one Redis or a Redis Cluster.
 */
class RedisUsageMeter implements UsageMeter {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly send: (entries: UsageEntry[]) => Promise<void>,
  ) {}

  async countRequest(
    viewerKey: string,
    operations: number,
    quota: number,
  ): Promise<{ count: number; allowed: boolean }> {
    const [count, allowed] = (await COUNT(
      this.redis,
      [`${this.prefix}${quotaKey(today(), viewerKey)}`],
      [2 * DAY_MS, operations, quota],
    )) as [number, number];
    return { count, allowed: allowed === 1 };
  }

  record(userId: string, costPoints: number): Promise<void> {
    return this.add(`${today()}:${userId}`, 1, costPoints);
  }

  private async add(member: string, requests: number, costPoints: number): Promise<void> {
    const shard = shardOf(member);
    await ADD(
      this.redis,
      [this.counterKey(shard, member), this.dirtyKey(shard)],
      [requests, costPoints, 7 * DAY_MS, member],
    );
  }

  async flush(): Promise<number> {
    const taken = await Promise.all(
      SHARDS.map(
        (shard) => TAKE(this.redis, [this.dirtyKey(shard)], [this.counterKey(shard, ''), 1000]) as Promise<string[]>,
      ),
    );
    const entries: UsageEntry[] = [];
    for (const flat of taken) {
      for (let i = 0; i < flat.length; i += 3) {
        const [day, userId] = flat[i]!.split(':') as [string, string];
        const requests = Number(flat[i + 1]);
        const costPoints = Number(flat[i + 2]);
        if (requests > 0 || costPoints > 0) entries.push({ userId, day, requests, costPoints });
      }
    }
    if (entries.length === 0) return 0;
    try {
      await this.send(entries);
    } catch (error) {
      // Put the counts back so the next flush retries them: nothing is lost.
      await Promise.all(entries.map((e) => this.add(`${e.day}:${e.userId}`, e.requests, e.costPoints)));
      throw error;
    }
    return entries.length;
  }

  private counterKey(shard: number, member: string): string {
    return `${this.prefix}usage:${shardTag('usage', shard)}:${member}`;
  }

  private dirtyKey(shard: number): string {
    return `${this.prefix}usage-dirty:${shardTag('usage', shard)}`;
  }
}

class MemoryUsageMeter implements UsageMeter {
  private quota = new Map<string, number>();
  private quotaDay = today();
  private pending = new Map<string, UsageEntry>();

  constructor(private readonly send: (entries: UsageEntry[]) => Promise<void>) {}

  async countRequest(
    viewerKey: string,
    operations: number,
    quota: number,
  ): Promise<{ count: number; allowed: boolean }> {
    if (this.quotaDay !== today()) {
      this.quota = new Map();
      this.quotaDay = today();
    }
    const count = this.quota.get(viewerKey) ?? 0;
    if (count + operations > quota) return { count, allowed: false };
    this.quota.set(viewerKey, count + operations);
    return { count: count + operations, allowed: true };
  }

  async record(userId: string, costPoints: number): Promise<void> {
    const day = today();
    const key = `${day}:${userId}`;
    const entry = this.pending.get(key) ?? { userId, day, requests: 0, costPoints: 0 };
    entry.requests++;
    entry.costPoints += costPoints;
    this.pending.set(key, entry);
  }

  async flush(): Promise<number> {
    if (this.pending.size === 0) return 0;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await this.send([...batch.values()]);
    } catch (error) {
      for (const [key, entry] of batch) {
        const current = this.pending.get(key);
        if (current) {
          current.requests += entry.requests;
          current.costPoints += entry.costPoints;
        } else this.pending.set(key, entry);
      }
      throw error;
    }
    return batch.size;
  }
}

export function createUsageMeter(state: SharedState, call: InternalClient, usageUrl: URL): UsageMeter {
  const send = async (entries: UsageEntry[]) => {
    if (entries.length > 0) await call(usageUrl, { entries });
  };
  const memory = new MemoryUsageMeter(send);
  if (!state.redis) return memory;
  // While Redis is away, counts are kept here and flushed by this instance.
  return withFallback<UsageMeter>(new RedisUsageMeter(state.redis, state.prefix, send), memory, (e) =>
    state.fellBack('usage meter', e),
  );
}

/** Flushes every `intervalMs` until stopped; a failed flush is retried by the next. */
export function startUsageFlush(meter: UsageMeter, intervalMs: number, log: Logger): () => Promise<void> {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = meter.flush().catch((error: unknown) => log.warn({ err: error }, 'usage flush failed; will retry'));
  }, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
    await meter.flush().catch((error: unknown) => log.warn({ err: error }, 'final usage flush failed'));
  };
}
