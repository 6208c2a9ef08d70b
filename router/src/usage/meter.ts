import { withFallback, type InternalClient, type Logger } from '@memegraph/service-kit';
import type { SharedState } from '../state/shared';

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
  /** Counts one request against the daily quota; returns the day's total so far. */
  countRequest(viewerKey: string): Promise<number>;
  /** Records a finished request of a signed-in user, with the cost points it used. */
  record(userId: string, costPoints: number): Promise<void>;
  /** Moves pending counts to the users subgraph. */
  flush(): Promise<number>;
}

class RedisUsageMeter implements UsageMeter {
  constructor(
    private readonly redis: NonNullable<SharedState['redis']>,
    private readonly prefix: string,
    private readonly send: (entries: UsageEntry[]) => Promise<void>,
  ) {}

  async countRequest(viewerKey: string): Promise<number> {
    const key = `${this.prefix}quota:${today()}:${viewerKey}`;
    const [[, count]] = (await this.redis.multi().incr(key).pexpire(key, 2 * DAY_MS).exec()) as [[null, number], unknown];
    return count;
  }

  async record(userId: string, costPoints: number): Promise<void> {
    const member = `${today()}:${userId}`;
    await this.redis
      .multi()
      .hincrby(`${this.prefix}usage:${member}`, 'requests', 1)
      .hincrby(`${this.prefix}usage:${member}`, 'cost', costPoints)
      .pexpire(`${this.prefix}usage:${member}`, 7 * DAY_MS)
      .sadd(`${this.prefix}usage:dirty`, member)
      .exec();
  }

  async flush(): Promise<number> {
    // SPOP hands each pending counter to exactly one router's flush.
    const members = (await this.redis.spop(`${this.prefix}usage:dirty`, 1000)) as string[];
    if (members.length === 0) return 0;
    const entries: UsageEntry[] = [];
    for (const member of members) {
      // Read and reset in one step: counts arriving meanwhile go to the next flush.
      const [[, counts]] = (await this.redis
        .multi()
        .hgetall(`${this.prefix}usage:${member}`)
        .del(`${this.prefix}usage:${member}`)
        .exec()) as [[null, Record<string, string>], unknown];
      const [day, userId] = member.split(':') as [string, string];
      const requests = Number(counts.requests ?? 0);
      const costPoints = Number(counts.cost ?? 0);
      if (requests > 0 || costPoints > 0) entries.push({ userId, day, requests, costPoints });
    }
    try {
      await this.send(entries);
    } catch (error) {
      // Put the counts back so the next flush retries them: nothing is lost.
      const pipeline = this.redis.multi();
      for (const e of entries) {
        const member = `${e.day}:${e.userId}`;
        pipeline.hincrby(`${this.prefix}usage:${member}`, 'requests', e.requests);
        pipeline.hincrby(`${this.prefix}usage:${member}`, 'cost', e.costPoints);
        pipeline.sadd(`${this.prefix}usage:dirty`, member);
      }
      await pipeline.exec();
      throw error;
    }
    return entries.length;
  }
}

class MemoryUsageMeter implements UsageMeter {
  private quota = new Map<string, number>();
  private quotaDay = today();
  private pending = new Map<string, UsageEntry>();

  constructor(private readonly send: (entries: UsageEntry[]) => Promise<void>) {}

  async countRequest(viewerKey: string): Promise<number> {
    if (this.quotaDay !== today()) {
      this.quota = new Map();
      this.quotaDay = today();
    }
    const count = (this.quota.get(viewerKey) ?? 0) + 1;
    this.quota.set(viewerKey, count);
    return count;
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
  return withFallback<UsageMeter>(new RedisUsageMeter(state.redis, state.prefix, send), memory, (e) => state.fellBack('usage meter', e));
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
