import { LRUCache } from 'lru-cache';
import type { SharedState } from './shared';
import { TaggedEntries } from './taggedEntries';

/** How a value is written in Redis (and so how much room it takes in this process). */
export interface Codec<T> {
  encode(value: T): string;
  decode(raw: string): T;
}

/** How a purge's tags are written on the purge channel. Routers of every version must read each other's. */
export interface PurgeMessageCodec {
  /** Tags one message may name at most (none: any number). */
  maxTags?: number;
  encode(tags: readonly string[]): string;
  /** Throws on a message it cannot read: the listener logs and drops it. */
  decode(message: string): readonly string[];
}

/** A list of tags as JSON, the response cache's purge message. */
export const JSON_TAGS: PurgeMessageCodec = {
  encode: (tags) => JSON.stringify(tags),
  decode(message) {
    const tags: unknown = JSON.parse(message);
    if (!Array.isArray(tags) || !tags.every((tag) => typeof tag === 'string'))
      throw new Error('not a list of cache tags');
    return tags as string[];
  },
};

/** One bare tag, the viewer cache's purge message (a user id). */
export const ONE_TAG: PurgeMessageCodec = {
  maxTags: 1,
  encode(tags) {
    if (tags.length !== 1) throw new Error('a purge message of this cache names exactly one tag');
    return tags[0]!;
  },
  decode: (message) => [message],
};

export interface TaggedCacheOptions<T> {
  /**
   * Names of the Redis keys (after the shared prefix): entries, tags'
   * versions (see TaggedEntries), and the pub/sub channel purges are
   * announced on.
   */
  names: { entry: string; tag: string; channel: string };
  /** What a value is listed under; a purge of any of them removes it. */
  tagsOf(value: T): readonly string[];
  /** How long Redis keeps a value for every router. */
  sharedTtlMs(value: T): number;
  /**
   * How long this process keeps a value it stored or read, from `now`; 0 or
   * less keeps it out. Told whether Redis is there: without it this process
   * is the only layer.
   */
  localTtlMs(value: T, withRedis: boolean, now: number): number;
  /**
   * Bytes the in-process layer may hold, counted as two per UTF-16 unit of
   * the values' encoded form: V8 may keep a string at two bytes a unit
   * (measured: cached answers of plain ASCII under large-cached-page took
   * 136,752 bytes for 68 K characters), and a decoded value takes about as
   * much as its text. Bounded by bytes rather than entries, since one entry
   * may be a few bytes or a hundred kilobytes.
   */
  maxLocalBytes: number;
  codec?: Codec<T>;
  purgeMessage?: PurgeMessageCodec;
  /** Told of the layer that answered each lookup. */
  onLookup?: (layer: 'local' | 'redis', found: Found<T> | undefined) => void;
  /** What `fellBack` calls this cache while Redis is away. */
  component: string;
  now?: () => number;
}

export interface Found<T> {
  value: T;
  /** A copy kept after a purge (see `purge`): never to be served as a hit. */
  staleOnly: boolean;
}

interface LocalEntry<T> {
  value: T;
  tags: readonly string[];
  staleOnly: boolean;
  size: number;
}

const JSON_CODEC: Codec<never> = {
  encode: (value) => JSON.stringify(value),
  decode: (raw) => JSON.parse(raw) as never,
};

/**
 * A two-level tagged cache: an in-process LRU, bounded by bytes, over
 * Redis, where each value is read with its tags' versions (sharded, see
 * TaggedEntries). Purging a tag removes its values from Redis first, then
 * from the LRU of every router through pub/sub. A purge may keep what it
 * removes as stale-only copies for a while (for stale-if-error), in Redis
 * or, without Redis, here. Without Redis (or while it is away) the LRU is
 * the only layer and purges reach this process only.
 */
export class TaggedCache<T> {
  private readonly local: LRUCache<string, LocalEntry<T>>;
  /** tag → keys held locally, to drop them on a purge. */
  private readonly byTag = new Map<string, Set<string>>();
  private readonly shared: TaggedEntries | null;
  private readonly channel: string;
  private readonly codec: Codec<T>;
  private readonly message: PurgeMessageCodec;
  private readonly now: () => number;
  private purges = 0;
  /**
   * Purges Redis did not take (it was away), by tag, with the stale window
   * each may keep: sent again before this process next reads Redis, and
   * every second until they are taken. Until then other routers may still
   * read what they remove from Redis.
   */
  private readonly unsent = new Map<string, number>();
  private resending: Promise<boolean> | null = null;
  private resendTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly state: SharedState,
    private readonly options: TaggedCacheOptions<T>,
  ) {
    this.codec = options.codec ?? (JSON_CODEC as Codec<T>);
    this.message = options.purgeMessage ?? JSON_TAGS;
    this.now = options.now ?? Date.now;
    this.local = new LRUCache({
      maxSize: Math.max(1, options.maxLocalBytes),
      sizeCalculation: (entry) => entry.size,
      ttl: 1, // set per entry
      // Entries expire on the cache's clock, so a test that moves it moves them too.
      perf: { now: () => this.now() },
      ttlResolution: 0,
      dispose: (entry, key, reason) => {
        // A value set again under its key is still listed: only its old tags that it lost go.
        if (reason === 'set') return;
        for (const tag of entry.tags) {
          const keys = this.byTag.get(tag);
          keys?.delete(key);
          if (keys?.size === 0) this.byTag.delete(tag);
        }
      },
    });
    const { names } = options;
    this.shared = state.redis
      ? new TaggedEntries(
          state.redis,
          { prefix: state.prefix, entry: names.entry, tag: names.tag },
          { now: () => this.now() },
        )
      : null;
    this.channel = `${state.prefix}${names.channel}`;
    state.listen(this.channel, (message) => this.dropLocal(this.message.decode(message), 0));
  }

  /**
   * Purges seen so far, here or announced by another router. A lookup of
   * the source of truth that overlapped one should not be stored: it may
   * hold what the purge just removed.
   */
  get generation(): number {
    return this.purges;
  }

  /**
   * The value this process holds, at once, without a promise; undefined
   * when it holds none (then `get` looks further). Told as `get` tells a
   * value found here.
   */
  getLocal(key: string): Found<T> | undefined {
    const hit = this.local.get(key);
    if (!hit) return undefined;
    const found = { value: hit.value, staleOnly: hit.staleOnly };
    this.options.onLookup?.('local', found);
    return found;
  }

  /** The value here, else in Redis (kept here for `localTtlMs`), else its stale copy; undefined when there is none. */
  async get(key: string): Promise<Found<T> | undefined> {
    const local = this.getLocal(key);
    if (local) return local;
    const report = this.options.onLookup;
    if (!this.shared) {
      report?.('local', undefined);
      return undefined;
    }
    // A purge Redis missed goes first: what it removes must not be read back.
    if (this.unsent.size > 0 && !(await this.resendPurges())) {
      report?.('redis', undefined);
      return undefined;
    }
    // A stale-only copy exists only after a purge that kept copies (`keepStaleMs`).
    const raw = await this.shared.get(key).catch((e: unknown) => {
      // Redis away: the cache is bypassed, the source of truth answers.
      this.state.fellBack(this.options.component, e);
      return null;
    });
    if (!raw) {
      report?.('redis', undefined);
      return undefined;
    }
    const found = { value: this.codec.decode(raw.value), staleOnly: raw.staleOnly };
    report?.('redis', found);
    if (!found.staleOnly) this.remember(key, found.value, raw.value);
    return found;
  }

  /**
   * Stores `value` in Redis, listed under its tags, and here. With
   * `keepHere: false` it is kept here only once read back from Redis, so a
   * value stored and never read again takes neither room nor work in this
   * process; without Redis this process is the only layer and keeps it
   * either way.
   */
  async set(key: string, value: T, { keepHere = true }: { keepHere?: boolean } = {}): Promise<void> {
    const raw = this.codec.encode(value);
    // Not kept here: an older value of the key must not stay behind either.
    if (this.shared && !keepHere) this.local.delete(key);
    else this.remember(key, value, raw);
    if (!this.shared) return;
    await this.shared
      .set(key, raw, this.options.sharedTtlMs(value), this.options.tagsOf(value))
      .catch((e: unknown) => this.state.fellBack(this.options.component, e));
  }

  /**
   * Removes every value listed under any of `tags`, here, in Redis and on
   * every other router. With `keepStaleMs`, each becomes a stale-only copy
   * for at most that long, in Redis (another router's LRU holds only
   * values to serve) or, without Redis, here.
   */
  async purge(tags: readonly string[], options: { keepStaleMs?: number } = {}): Promise<void> {
    if (tags.length === 0) return;
    const keepStaleMs = options.keepStaleMs ?? 0;
    const redis = this.state.redis;
    if (!this.shared || !redis) {
      this.dropLocal(tags, keepStaleMs);
      return;
    }
    this.dropLocal(tags, 0);
    try {
      await this.sendPurge(tags, keepStaleMs);
    } catch (error) {
      // Kept to send again once Redis answers; other routers keep their copy until its local TTL ends.
      this.state.fellBack(`${this.options.component} invalidation`, error);
      for (const tag of tags) this.unsent.set(tag, Math.min(this.unsent.get(tag) ?? keepStaleMs, keepStaleMs));
      this.resendLater();
    }
  }

  /** Purges still to send to Redis (see `unsent`). */
  get unsentPurges(): number {
    return this.unsent.size;
  }

  /** Redis first: a router that drops its copy on the message must not read the old value back. */
  private async sendPurge(tags: readonly string[], keepStaleMs: number): Promise<void> {
    await this.shared!.purge(tags, keepStaleMs > 0 ? { keepStaleMs } : {});
    const per = this.message.maxTags ?? tags.length;
    for (let i = 0; i < tags.length; i += per)
      await this.state.redis!.publish(this.channel, this.message.encode(tags.slice(i, i + per)));
  }

  /** Sends the purges Redis missed, one send at a time; true once none is left. */
  private resendPurges(): Promise<boolean> {
    if (this.unsent.size === 0) return Promise.resolve(true);
    this.resending ??= this.resendOnce().finally(() => {
      this.resending = null;
    });
    return this.resending;
  }

  private async resendOnce(): Promise<boolean> {
    const sending = new Map(this.unsent);
    const byWindow = new Map<number, string[]>();
    for (const [tag, keepStaleMs] of sending) byWindow.set(keepStaleMs, [...(byWindow.get(keepStaleMs) ?? []), tag]);
    try {
      for (const [keepStaleMs, tags] of byWindow) await this.sendPurge(tags, keepStaleMs);
      // Purged again meanwhile with a window of its own: still to send.
      for (const [tag, keepStaleMs] of sending) if (this.unsent.get(tag) === keepStaleMs) this.unsent.delete(tag);
    } catch (error) {
      this.state.fellBack(`${this.options.component} invalidation`, error);
    }
    if (this.unsent.size > 0) this.resendLater();
    return this.unsent.size === 0;
  }

  private resendLater(): void {
    if (this.resendTimer) return;
    this.resendTimer = setTimeout(() => {
      this.resendTimer = null;
      void this.resendPurges();
    }, 1_000);
    this.resendTimer.unref();
  }

  /** What the in-process layer holds: its entries, their bytes as budgeted, and the tags listing them. */
  localStats(): { entries: number; bytes: number; tags: number } {
    return { entries: this.local.size, bytes: this.local.calculatedSize, tags: this.byTag.size };
  }

  private remember(key: string, value: T, raw: string): void {
    const ttl = this.options.localTtlMs(value, this.shared !== null, this.now());
    if (ttl <= 0) {
      // A value that may not be kept here must not leave an older one behind.
      this.local.delete(key);
      return;
    }
    this.put(key, { value, tags: this.options.tagsOf(value), staleOnly: false, size: raw.length * 2 }, ttl);
  }

  private put(key: string, entry: LocalEntry<T>, ttl: number): void {
    const previous = this.local.peek(key);
    this.local.set(key, entry, { ttl });
    if (!this.local.has(key)) {
      // Larger than the whole layer: not kept, and whatever the key held is gone too.
      if (previous) for (const tag of previous.tags) this.byTag.get(tag)?.delete(key);
      return;
    }
    if (previous) for (const tag of previous.tags) if (!entry.tags.includes(tag)) this.byTag.get(tag)?.delete(key);
    for (const tag of entry.tags) {
      let keys = this.byTag.get(tag);
      if (!keys) this.byTag.set(tag, (keys = new Set()));
      keys.add(key);
    }
  }

  /** Drops this router's values listed under any of `tags`, or keeps them stale-only for up to `keepStaleMs`. */
  private dropLocal(tags: readonly string[], keepStaleMs: number): void {
    this.purges++;
    const keys = new Set<string>();
    for (const tag of tags) for (const key of this.byTag.get(tag) ?? []) keys.add(key);
    for (const key of keys) {
      const entry = this.local.get(key);
      if (!entry || (keepStaleMs > 0 && entry.staleOnly)) continue;
      const left = this.local.getRemainingTTL(key);
      this.local.delete(key);
      // A kept copy stays listed under its tags, so a later purge that keeps nothing finds it.
      if (keepStaleMs > 0) this.put(key, { ...entry, staleOnly: true }, Math.min(left, keepStaleMs));
    }
    if (keepStaleMs <= 0) for (const tag of tags) this.byTag.delete(tag);
  }
}
