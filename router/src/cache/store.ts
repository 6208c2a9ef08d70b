import { LRUCache } from 'lru-cache';
import { PURGE_REQUEST_CHANNEL, readPurgeRequest } from '@memegraph/service-kit';
import type { SharedState } from '../state/shared';
import { TaggedCache } from '../state/taggedCache';
import { entryCodec } from './entryCodec';
import { RESPONSE_CACHE_NAMES } from './keyKinds';

export interface CachedResponse {
  /** The answer's `data`, serialized: a hit is written around these bytes, never serialized again. */
  data: string;
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
  /** How long past its maxAge a response may still be served while one refresh of it runs (0: not at all). */
  staleWhileRevalidateSeconds?: number;
  /** Told of every lookup: which layer answered and how. */
  onLookup?: (layer: 'local' | 'redis', result: 'hit' | 'stale' | 'miss') => void;
  /** Told of every purge this router makes (a mutation's, or another service's request it claimed), e.g. for a CDN. */
  onPurge?: (tags: readonly string[]) => void;
  /** Bytes of responses (as stored) this process keeps in front of Redis. */
  maxLocalBytes?: number;
  /** The entity cache (ENTITY_CACHE): every purge of the response cache purges its entities of the same tags too. */
  entities?: { purge(tags: readonly string[]): Promise<void> };
  now?: () => number;
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

/** Keys of answers stored lately that `set` remembers, to tell a hot key from one asked once. */
const STORED_KEYS = 10_000;

/** Enough for a few thousand typical answers or a few hundred large pages, and a small part of the router's memory. */
export const DEFAULT_LOCAL_MAX_BYTES = 32 * 1024 * 1024;

export const ageOf = (entry: CachedResponse, now = Date.now()) =>
  Math.max(0, Math.floor((now - entry.storedAt) / 1000));
export const isFresh = (entry: CachedResponse, now = Date.now()) =>
  !entry.staleOnly && now - entry.storedAt < entry.maxAge * 1000;
/** Whether an entry past its maxAge may still be served while it is refreshed: never a stale-only copy a purge kept. */
export const isRevalidatable = (entry: CachedResponse, seconds: number, now = Date.now()) =>
  seconds > 0 && !entry.staleOnly && now - entry.storedAt < (entry.maxAge + seconds) * 1000;

/**
 * The router's response cache: a tagged cache (see TaggedCache), an
 * in-process LRU (seconds) over Redis. Entries are tagged with the entities
 * they hold; purging a tag removes them from Redis and, through pub/sub,
 * from every router's LRU. A purge after a mutation keeps stale-only copies
 * for stale-if-error.
 */
export class ResponseCache<Entry extends CachedResponse = CachedResponse> {
  private readonly cache: TaggedCache<Entry>;
  /** Keys this router stored an answer of lately (see `set`): the keys alone, digests of 43 characters. */
  private readonly storedBefore = new LRUCache<string, true>({ max: STORED_KEYS });

  constructor(
    private readonly state: SharedState,
    private readonly options: ResponseCacheOptions,
  ) {
    const now = options.now ?? Date.now;
    const report = options.onLookup;
    // Kept past maxAge for the longer of the two stale windows.
    const staleSeconds = Math.max(options.staleIfErrorSeconds, options.staleWhileRevalidateSeconds ?? 0);
    this.cache = new TaggedCache<Entry>(state, {
      component: 'response cache',
      names: RESPONSE_CACHE_NAMES,
      tagsOf: (entry) => entry.tags,
      sharedTtlMs: (entry) => (entry.maxAge + staleSeconds) * 1000,
      // Without Redis this LRU is the only layer, so it keeps stale entries for both stale windows too.
      localTtlMs: (entry, withRedis, at) =>
        withRedis
          ? Math.min(options.localTtlMs, entry.maxAge * 1000 - (at - entry.storedAt))
          : (entry.maxAge + staleSeconds) * 1000 - (at - entry.storedAt),
      maxLocalBytes: options.maxLocalBytes ?? DEFAULT_LOCAL_MAX_BYTES,
      codec: entryCodec<Entry>(),
      onLookup:
        report &&
        ((layer, found) =>
          report(layer, !found ? 'miss' : isFresh(this.mark(found.value, found.staleOnly), now()) ? 'hit' : 'stale')),
      now,
    });
    // Services other than routers (the AI worker) ask for purges here; every router hears each request.
    state.listen(`${state.prefix}${PURGE_REQUEST_CHANNEL}`, (message) => this.purgeRequested(message));
  }

  /**
   * A cached response, fresh or (within the stale window) not, or else the
   * stale-only copy a purge kept; undefined when there is none.
   */
  async get(key: string): Promise<Entry | undefined> {
    const found = await this.cache.get(key);
    return found && this.mark(found.value, found.staleOnly);
  }

  /** What `get` gives when this process holds the response itself, at once and without a promise; else undefined. */
  getLocal(key: string): Entry | undefined {
    const found = this.cache.getLocal(key);
    return found && this.mark(found.value, found.staleOnly);
  }

  /**
   * Stores an answer for every router. This process keeps it at once only
   * for a key it stored before (a hot key, stored again after it expired
   * or was purged); the first answer of a key is kept here once read back
   * from Redis, so an answer no one asks for again (a unique miss) takes
   * neither room nor work here.
   */
  async set(key: string, entry: Entry): Promise<void> {
    const keepHere = this.storedBefore.has(key);
    this.storedBefore.set(key, true);
    await this.cache.set(key, entry, { keepHere });
  }

  /**
   * Removes every response holding any of `tags` as a hit, here, in Redis
   * and on every other router, keeping stale-only copies when asked (see
   * PurgeOptions), and every entity of the entity cache listed under them;
   * the purge hook hears of it.
   */
  async purge(tags: readonly string[], options: PurgeOptions): Promise<void> {
    if (tags.length === 0) return;
    this.options.onPurge?.(tags);
    await Promise.all([
      this.cache.purge(tags, options.keepStale ? { keepStaleMs: this.options.staleIfErrorSeconds * 1000 } : {}),
      this.options.entities?.purge(tags),
    ]);
  }

  /** A stale-only copy is marked on a copy of the entry: the one held stays as stored. */
  private mark(entry: Entry, staleOnly: boolean): Entry {
    return staleOnly && !entry.staleOnly ? { ...entry, staleOnly: true } : entry;
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
    const claimed = await redis
      .set(`${this.state.prefix}purge-claim:${request.id}`, '1', 'PX', PURGE_CLAIM_MS, 'NX')
      .catch((e: unknown) => {
        this.state.fellBack('cache invalidation', e);
        return null;
      });
    if (claimed === 'OK') await this.purge(request.tags, { keepStale: true });
  }
}
