import { LRUCache } from 'lru-cache';
import { PURGE_REQUEST_CHANNEL, readPurgeRequest } from '@memegraph/service-kit';
import type { SharedState } from '../state/shared';
import { TaggedEntries } from '../state/taggedEntries';

export interface CachedResponse {
  data: Record<string, unknown>;
  /** Epoch ms. */
  storedAt: number;
  /** Seconds the response is fresh. */
  maxAge: number;
  tags: string[];
  /**
   * A copy kept after a purge (see ResponseCache.purge): served only when a
   * subgraph fails, never as a hit. Set when read, not stored.
   */
  staleOnly?: boolean;
}

export interface ResponseCacheOptions {
  /** How long this process keeps a response itself, in front of Redis. */
  localTtlMs: number;
  /** How long past its maxAge a response may still be served when a subgraph fails. */
  staleIfErrorSeconds: number;
  /** Told of every lookup: which layer answered and how. */
  onLookup?: (layer: 'local' | 'redis', result: 'hit' | 'stale' | 'miss') => void;
  /** Told of every purge this router makes (a mutation's, or another service's request it claimed), e.g. for a CDN. */
  onPurge?: (tags: readonly string[]) => void;
  maxEntries?: number;
}

export interface PurgeOptions {
  /**
   * Keep what is purged as stale-only copies for the stale window, to serve
   * if a subgraph fails before a fresh answer is stored. Never for a purge
   * because what a viewer may see changed: then nothing of it may be served.
   */
  keepStale: boolean;
}

/** How long a claimed purge request stays claimed: far longer than its message takes to reach every router. */
const PURGE_CLAIM_MS = 60_000;

export const ageOf = (entry: CachedResponse, now = Date.now()) => Math.max(0, Math.floor((now - entry.storedAt) / 1000));
export const isFresh = (entry: CachedResponse, now = Date.now()) => !entry.staleOnly && now - entry.storedAt < entry.maxAge * 1000;

/**
 * The router's response cache: an in-process LRU (seconds) over Redis.
 * Entries are tagged with the entities they hold; purging a tag removes
 * them from Redis and, through pub/sub, from every router's LRU. In Redis
 * the entries and their tag sets are sharded (see TaggedEntries), so this
 * works on a Redis Cluster as on one Redis.
 */
export class ResponseCache {
  private readonly local: LRUCache<string, CachedResponse>;
  private readonly byTag = new Map<string, Set<string>>();
  private readonly channel: string;
  private readonly shared: TaggedEntries | null;

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
    this.shared = state.redis ? new TaggedEntries(state.redis, { prefix: state.prefix, entry: 'response', tag: 'tag', stale: 'stale-response' }) : null;
    this.channel = `${state.prefix}cache-purge`;
    state.listen(this.channel, (message) => this.dropLocal(JSON.parse(message) as string[], 0));
    // Services other than routers (the AI worker) ask for purges here; every router hears each request.
    state.listen(`${state.prefix}${PURGE_REQUEST_CHANNEL}`, (message) => this.purgeRequested(message));
  }

  /**
   * A cached response, fresh or (within the stale window) not, or else the
   * stale-only copy a purge kept; undefined when there is none.
   */
  async get(key: string): Promise<CachedResponse | undefined> {
    const report = this.options.onLookup;
    const hit = this.local.get(key);
    if (hit) {
      report?.('local', isFresh(hit) ? 'hit' : 'stale');
      return hit;
    }
    if (!this.shared) {
      report?.('local', 'miss');
      return undefined;
    }
    const found = await this.shared.getWithStale(key).catch((e: unknown) => {
      // Redis away: the cache is bypassed, the request is served fresh.
      this.state.fellBack('response cache', e);
      return null;
    });
    if (!found) {
      report?.('redis', 'miss');
      return undefined;
    }
    const entry = JSON.parse(found.value) as CachedResponse;
    if (found.staleOnly) entry.staleOnly = true;
    const fresh = isFresh(entry);
    report?.('redis', fresh ? 'hit' : 'stale');
    if (fresh) this.remember(key, entry);
    return entry;
  }

  async set(key: string, entry: CachedResponse): Promise<void> {
    this.remember(key, entry);
    if (!this.shared) return;
    const ttlMs = (entry.maxAge + this.options.staleIfErrorSeconds) * 1000;
    await this.shared
      .set(key, JSON.stringify(entry), ttlMs, entry.tags)
      .catch((e: unknown) => this.state.fellBack('response cache', e));
  }

  /**
   * Removes every response holding any of `tags` as a hit, here, in Redis
   * and on every other router, keeping stale-only copies when asked (see
   * PurgeOptions); the purge hook hears of it.
   */
  async purge(tags: readonly string[], options: PurgeOptions): Promise<void> {
    if (tags.length === 0) return;
    this.options.onPurge?.(tags);
    const keepStaleMs = options.keepStale ? this.options.staleIfErrorSeconds * 1000 : 0;
    const redis = this.state.redis;
    if (!this.shared || !redis) {
      // This LRU is the only layer: it keeps the copies itself.
      this.dropLocal(tags, keepStaleMs);
      return;
    }
    // Another router's LRU holds only fresh answers: the copies are in Redis.
    this.dropLocal(tags, 0);
    try {
      // Redis first: a router that drops its copy on the message must not read the old entry back.
      await this.shared.purge(tags, keepStaleMs > 0 ? { keepStaleMs } : {});
      await redis.publish(this.channel, JSON.stringify(tags));
    } catch (error) {
      this.state.fellBack('cache invalidation', error);
    }
  }

  /**
   * A purge another service asked for (see purgeRequest.ts). One router
   * claims it and purges Redis once, then every router drops its copies on
   * the purge message. A request without an id, from a worker of an earlier
   * version, is purged by every router, as then.
   */
  private async purgeRequested(message: string): Promise<void> {
    const request = readPurgeRequest(message);
    if (!request) throw new Error('not a list of cache tags');
    // A request says which entities changed, not why: a copy may be kept, as after a mutation's.
    if (!request.id) return this.purge(request.tags, { keepStale: true });
    const redis = this.state.redis;
    if (!redis) return;
    const claimed = await redis.set(`${this.state.prefix}purge-claim:${request.id}`, '1', 'PX', PURGE_CLAIM_MS, 'NX').catch((e: unknown) => {
      this.state.fellBack('cache invalidation', e);
      return null;
    });
    if (claimed === 'OK') await this.purge(request.tags, { keepStale: true });
  }

  private remember(key: string, entry: CachedResponse): void {
    // Without Redis this LRU is the only layer, so it keeps stale entries for stale-if-error too.
    const ttl = this.state.redis
      ? Math.min(this.options.localTtlMs, entry.maxAge * 1000 - (Date.now() - entry.storedAt))
      : (entry.maxAge + this.options.staleIfErrorSeconds) * 1000 - (Date.now() - entry.storedAt);
    if (ttl <= 0) return;
    this.local.set(key, entry, { ttl });
    this.index(key, entry.tags);
  }

  /** Drops this router's copies of responses holding any of `tags`, or keeps them stale-only for up to `keepStaleMs`. */
  private dropLocal(tags: readonly string[], keepStaleMs: number): void {
    const keys = new Set<string>();
    for (const tag of tags) for (const key of this.byTag.get(tag) ?? []) keys.add(key);
    for (const key of keys) {
      const entry = this.local.get(key);
      if (!entry || (keepStaleMs > 0 && entry.staleOnly)) continue;
      const left = this.local.getRemainingTTL(key);
      this.local.delete(key);
      if (keepStaleMs > 0) {
        this.local.set(key, { ...entry, staleOnly: true }, { ttl: Math.min(left, keepStaleMs) });
        this.index(key, entry.tags);
      }
    }
    // A kept copy stays listed under its tags, so a later purge that keeps nothing finds it.
    if (keepStaleMs <= 0) for (const tag of tags) this.byTag.delete(tag);
  }

  private index(key: string, tags: readonly string[]): void {
    for (const tag of tags) {
      let keys = this.byTag.get(tag);
      if (!keys) this.byTag.set(tag, (keys = new Set()));
      keys.add(key);
    }
  }
}
