import { LRUCache } from 'lru-cache';
import type { SharedState } from '../state/shared';

export interface CachedResponse {
  data: Record<string, unknown>;
  /** Epoch ms. */
  storedAt: number;
  /** Seconds the response is fresh. */
  maxAge: number;
  tags: string[];
}

export interface ResponseCacheOptions {
  /** How long this process keeps a response itself, in front of Redis. */
  localTtlMs: number;
  /** How long past its maxAge a response may still be served when a subgraph fails. */
  staleIfErrorSeconds: number;
  /** Told of every lookup: which layer answered and how. */
  onLookup?: (layer: 'local' | 'redis', result: 'hit' | 'stale' | 'miss') => void;
  maxEntries?: number;
}

/**
 * Stores an entry and records it under each of its tags in one round trip.
 * A tag set must outlive its longest-lived entry, or a purge would miss
 * that entry: its expiry is extended, never shortened.
 */
const STORE = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local ttl = tonumber(ARGV[2])
for i = 2, #KEYS do
  redis.call('SADD', KEYS[i], ARGV[3])
  if redis.call('PTTL', KEYS[i]) < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
end
return #KEYS - 1
`;

export const ageOf = (entry: CachedResponse, now = Date.now()) => Math.max(0, Math.floor((now - entry.storedAt) / 1000));
export const isFresh = (entry: CachedResponse, now = Date.now()) => now - entry.storedAt < entry.maxAge * 1000;

/**
 * The router's response cache: an in-process LRU (seconds) over Redis.
 * Entries are tagged with the entities they hold; purging a tag removes
 * them from Redis and, through pub/sub, from every router's LRU.
 */
export class ResponseCache {
  private readonly local: LRUCache<string, CachedResponse>;
  private readonly byTag = new Map<string, Set<string>>();
  private readonly channel: string;

  constructor(
    private readonly state: SharedState,
    private readonly options: ResponseCacheOptions,
  ) {
    this.local = new LRUCache({
      max: options.maxEntries ?? 10_000,
      ttl: 1, // set per entry
      dispose: (entry, key) => {
        for (const tag of entry.tags) this.byTag.get(tag)?.delete(key);
      },
    });
    this.channel = `${state.prefix}cache-purge`;
    state.listen(this.channel, (message) => this.dropLocal(JSON.parse(message) as string[]));
    // Services other than routers (the AI worker) ask for purges here; every router acts, purging twice is harmless.
    state.listen(`${state.prefix}cache-purge-request`, (message) => void this.purge(JSON.parse(message) as string[]));
  }

  /** A cached response, fresh or (within the stale window) not; undefined when there is none. */
  async get(key: string): Promise<CachedResponse | undefined> {
    const report = this.options.onLookup;
    const hit = this.local.get(key);
    if (hit) {
      report?.('local', isFresh(hit) ? 'hit' : 'stale');
      return hit;
    }
    if (!this.state.redis) {
      report?.('local', 'miss');
      return undefined;
    }
    const raw = await this.state.redis.get(this.redisKey(key)).catch((e: unknown) => {
      // Redis away: the cache is bypassed, the request is served fresh.
      this.state.fellBack('response cache', e);
      return null;
    });
    if (!raw) {
      report?.('redis', 'miss');
      return undefined;
    }
    const entry = JSON.parse(raw) as CachedResponse;
    const fresh = isFresh(entry);
    report?.('redis', fresh ? 'hit' : 'stale');
    if (fresh) this.remember(key, entry);
    return entry;
  }

  async set(key: string, entry: CachedResponse): Promise<void> {
    this.remember(key, entry);
    const redis = this.state.redis;
    if (!redis) return;
    const ttlMs = (entry.maxAge + this.options.staleIfErrorSeconds) * 1000;
    await redis
      .eval(STORE, 1 + entry.tags.length, this.redisKey(key), ...entry.tags.map((tag) => this.tagKey(tag)), JSON.stringify(entry), ttlMs, key)
      .catch((e: unknown) => this.state.fellBack('response cache', e));
  }

  /** Removes every response holding any of `tags`, here, in Redis and on every other router. */
  async purge(tags: readonly string[]): Promise<void> {
    if (tags.length === 0) return;
    this.dropLocal(tags);
    const redis = this.state.redis;
    if (!redis) return;
    try {
      const members = await Promise.all(tags.map((tag) => redis.smembers(this.tagKey(tag))));
      const pipeline = redis.multi();
      for (const [i, keys] of members.entries()) {
        for (const key of keys) pipeline.del(this.redisKey(key));
        pipeline.del(this.tagKey(tags[i]!));
      }
      pipeline.publish(this.channel, JSON.stringify(tags));
      await pipeline.exec();
    } catch (error) {
      this.state.fellBack('cache invalidation', error);
    }
  }

  private remember(key: string, entry: CachedResponse): void {
    // Without Redis this LRU is the only layer, so it keeps stale entries for stale-if-error too.
    const ttl = this.state.redis
      ? Math.min(this.options.localTtlMs, entry.maxAge * 1000 - (Date.now() - entry.storedAt))
      : (entry.maxAge + this.options.staleIfErrorSeconds) * 1000 - (Date.now() - entry.storedAt);
    if (ttl <= 0) return;
    this.local.set(key, entry, { ttl });
    for (const tag of entry.tags) {
      let keys = this.byTag.get(tag);
      if (!keys) this.byTag.set(tag, (keys = new Set()));
      keys.add(key);
    }
  }

  private dropLocal(tags: readonly string[]): void {
    for (const tag of tags) {
      for (const key of this.byTag.get(tag) ?? []) this.local.delete(key);
      this.byTag.delete(tag);
    }
  }

  private redisKey(key: string): string {
    return `${this.state.prefix}response:${key}`;
  }

  private tagKey(tag: string): string {
    return `${this.state.prefix}tag:${tag}`;
  }
}
