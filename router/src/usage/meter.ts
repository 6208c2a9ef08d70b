import { randomUUID } from 'node:crypto';
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

/**
 * Counts on their way to the users subgraph, under an id of their own. A
 * batch is sent, with its id, until the subgraph acknowledges it, and the
 * subgraph applies an id at most once: counts are neither lost when a send
 * fails nor added twice when only its answer was lost.
 */
interface UsageBatch {
  id: string;
  entries: UsageEntry[];
  /** The Redis shard it was taken from, which is told at its next take that the batch arrived; none for this process's own. */
  shard?: number;
}

const today = () => new Date().toISOString().slice(0, 10);
const DAY_MS = 86_400_000;
/** Entries a request to the users subgraph carries at most: well inside its 10 000 and its 1 MiB body. */
const ENTRIES_PER_REQUEST = 5_000;
/** Counters taken into one shard's batch at most. */
const BATCH_SIZE = 1_000;
/**
 * A batch taken from Redis and unacknowledged this long is sent by whichever
 * router flushes next, as the router that took it may be gone; until then
 * only that router sends it. Longer than a flush's requests take (10 s each
 * at most), so a live router's batch is not sent by others on the way.
 */
const RETRY_AFTER_MS = 60_000;
/** How long counters and taken batches stay in Redis; the users subgraph remembers batch ids as long. */
const KEEP_MS = 7 * DAY_MS;

/**
 * Usage metering on the hot path without a database write per request:
 * counts go to Redis (or this process), and a background flush hands them
 * to the users subgraph in batches, each counted there exactly once (see
 * UsageBatch). The daily quota counter is separate
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
  /** Sends pending counts to the users subgraph; returns the entries it acknowledged, or throws when a send fails. */
  flush(): Promise<number>;
}

/**
 * A flush's one step on a shard. The shard's batch (KEYS[2]: id, entries,
 * due) holds taken counts until the users subgraph acknowledges them:
 * - when its id is ARGV[4] (acknowledged to this router), it is deleted;
 * - else, once due (at ARGV[5], now, or before), it is handed out again and
 *   due next at ARGV[6]; until then nothing is handed out, as the router
 *   that took it may still be sending it. A router that dies, or loses
 *   Redis, before passing the id back leaves the batch to any router.
 * With no batch left, a new one (id ARGV[3], due at ARGV[6], kept ARGV[7]
 * ms) takes up to ARGV[2] counters from the dirty set (KEYS[1]) in one step:
 * SPOP lists each counter in exactly one batch, and counts arriving
 * meanwhile go to the next. A counter's key is ARGV[1] and its member: the
 * shard's hash tag, so the slot of KEYS[1] and KEYS[2]. Returns the id and
 * the entries ("member requests cost", comma-separated), or nothing.
 */
const TAKE = redisScript(`
local batch = redis.call('HMGET', KEYS[2], 'id', 'entries', 'due')
if batch[1] and batch[1] == ARGV[4] then
  redis.call('DEL', KEYS[2])
elseif batch[1] then
  if tonumber(batch[3]) > tonumber(ARGV[5]) then return {} end
  redis.call('HSET', KEYS[2], 'due', ARGV[6])
  return {batch[1], batch[2]}
end
local entries = {}
for _, member in ipairs(redis.call('SPOP', KEYS[1], ARGV[2])) do
  local key = ARGV[1] .. member
  local counts = redis.call('HMGET', key, 'requests', 'cost')
  redis.call('DEL', key)
  if counts[1] then table.insert(entries, member .. ' ' .. counts[1] .. ' ' .. (counts[2] or '0')) end
end
if #entries == 0 then return {} end
local encoded = table.concat(entries, ',')
redis.call('HSET', KEYS[2], 'id', ARGV[3], 'entries', encoded, 'due', ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
return {ARGV[3], encoded}
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
 * Counters live in shards (see shards.ts): a user's day counter, the dirty
 * set that lists it and the shard's batch share a hash tag, so recording is
 * one script and a flush is one script per shard, on one Redis or a Redis
 * Cluster.
 */
class RedisUsageMeter implements UsageMeter {
  /** Per shard, the id of its batch the users subgraph acknowledged last: the shard's next take deletes it. */
  private readonly acknowledged = new Map<number, string>();

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    /** Keeps the batches taken here until they are acknowledged, and the counts made while Redis is away. */
    private readonly local: MemoryUsageMeter,
    private readonly fellBack: (error: unknown) => void,
    private readonly now: () => number,
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

  async record(userId: string, costPoints: number): Promise<void> {
    const member = `${today()}:${userId}`;
    const shard = shardOf(member);
    await ADD(this.redis, [this.counterKey(shard, member), this.dirtyKey(shard)], [1, costPoints, KEEP_MS, member]);
  }

  /**
   * Sends the batches the shards hand out with what this process keeps. A
   * taken batch stays in Redis until acknowledged there, and in this process
   * until acknowledged here: a send that fails, or a Redis that goes away
   * after the take, loses nothing, and whichever copy is sent again carries
   * the same id. A shard Redis does not answer for is left for the next flush.
   */
  async flush(): Promise<number> {
    const taken = await Promise.allSettled(SHARDS.map((shard) => this.take(shard)));
    const failed = taken.find((t) => t.status === 'rejected');
    if (failed) this.fellBack(failed.reason);
    return this.local.deliver(
      taken.flatMap((t) => (t.status === 'fulfilled' ? t.value : [])),
      (batch) => {
        if (batch.shard !== undefined) this.acknowledged.set(batch.shard, batch.id);
      },
    );
  }

  private async take(shard: number): Promise<UsageBatch[]> {
    const now = this.now();
    const [id, encoded] = (await TAKE(
      this.redis,
      [this.dirtyKey(shard), this.batchKey(shard)],
      [
        this.counterKey(shard, ''),
        BATCH_SIZE,
        randomUUID(),
        this.acknowledged.get(shard) ?? '',
        now,
        now + RETRY_AFTER_MS,
        KEEP_MS,
      ],
    )) as [string?, string?];
    if (id === undefined || encoded === undefined) return [];
    const entries = encoded.split(',').map((entry) => {
      const [member, requests, costPoints] = entry.split(' ') as [string, string, string];
      const [day, userId] = member.split(':') as [string, string];
      return { userId, day, requests: Number(requests), costPoints: Number(costPoints) };
    });
    return [{ id, entries, shard }];
  }

  private counterKey(shard: number, member: string): string {
    return `${this.prefix}usage:${shardTag('usage', shard)}:${member}`;
  }

  private dirtyKey(shard: number): string {
    return `${this.prefix}usage-dirty:${shardTag('usage', shard)}`;
  }

  private batchKey(shard: number): string {
    return `${this.prefix}usage-batch:${shardTag('usage', shard)}`;
  }
}

class MemoryUsageMeter implements UsageMeter {
  private quota = new Map<string, number>();
  private quotaDay = today();
  private pending = new Map<string, UsageEntry>();
  /** Batches not acknowledged yet, by id: each is sent again, with its id, until it is. */
  private readonly unacknowledged = new Map<string, UsageBatch>();

  constructor(private readonly send: (batches: UsageBatch[]) => Promise<void>) {}

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

  flush(): Promise<number> {
    return this.deliver([], () => undefined);
  }

  /**
   * Sends `taken`, the batches not acknowledged yet, and the counts made here
   * as a new batch unless the last one is still unacknowledged (counts made
   * meanwhile wait for the next, so a long outage keeps one batch of them);
   * calls `acknowledged` for each batch the users subgraph acknowledges.
   * Returns the entries acknowledged; throws when a request fails.
   */
  async deliver(taken: UsageBatch[], acknowledged: (batch: UsageBatch) => void): Promise<number> {
    for (const batch of taken) this.unacknowledged.set(batch.id, batch);
    const waiting = [...this.unacknowledged.values()];
    if (this.pending.size > 0 && !waiting.some((batch) => batch.shard === undefined)) {
      const entries = [...this.pending.values()].slice(0, ENTRIES_PER_REQUEST);
      for (const e of entries) this.pending.delete(`${e.day}:${e.userId}`);
      const own = { id: randomUUID(), entries };
      this.unacknowledged.set(own.id, own);
      waiting.push(own);
    }
    // Whole batches to a request: an id stands for all of its batch's entries.
    const requests: UsageBatch[][] = [];
    let size = ENTRIES_PER_REQUEST;
    for (const batch of waiting) {
      if (size + batch.entries.length > ENTRIES_PER_REQUEST) {
        requests.push([]);
        size = 0;
      }
      requests.at(-1)!.push(batch);
      size += batch.entries.length;
    }
    let sent = 0;
    for (const batches of requests) {
      await this.send(batches);
      for (const batch of batches) {
        this.unacknowledged.delete(batch.id);
        acknowledged(batch);
        sent += batch.entries.length;
      }
    }
    return sent;
  }
}

export function createUsageMeter(
  state: SharedState,
  call: InternalClient,
  usageUrl: URL,
  options: { now?: () => number } = {},
): UsageMeter {
  const send = async (batches: UsageBatch[]) => {
    await call(usageUrl, { batches: batches.map(({ id, entries }) => ({ id, entries })) });
  };
  const memory = new MemoryUsageMeter(send);
  if (!state.redis) return memory;
  const fellBack = (error: unknown) => state.fellBack('usage meter', error);
  const shared = new RedisUsageMeter(state.redis, state.prefix, memory, fellBack, options.now ?? Date.now);
  // While Redis is away, counts are kept here. A flush falls back by itself, shard by shard, and also
  // sends what this process kept: a failed send is the users subgraph's failure, not Redis's.
  const counting = withFallback<UsageMeter>(shared, memory, fellBack);
  return {
    countRequest: (viewerKey, operations, quota) => counting.countRequest(viewerKey, operations, quota),
    record: (userId, costPoints) => counting.record(userId, costPoints),
    flush: () => shared.flush(),
  };
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
