import { LRUCache } from 'lru-cache';
import type { Viewer } from '@memegraph/service-kit';
import type { SharedState } from '../state/shared';
import { ONE_TAG, TaggedCache } from '../state/taggedCache';

export interface ViewerCacheOptions {
  /** How long this process keeps a viewer. Without Redis there is no invalidation, so keep it short. */
  localTtlMs: number;
  /** How long Redis keeps a viewer for every router. */
  sharedTtlMs: number;
  /**
   * How long a refused credential is remembered, here and in Redis: a flood
   * of one unknown or revoked key then reaches PostgreSQL once. A refused
   * credential never becomes good (keys are random, revocation and ended
   * sessions are final), so nothing needs to forget it sooner.
   */
  refusedTtlMs: number;
  /** Bytes of viewers (as stored) this process keeps. */
  maxLocalBytes?: number;
  /** How many refused credentials this process remembers. */
  maxRefused?: number;
  now?: () => number;
}

/** Why the users subgraph refused a credential. */
export type RefusalReason = 'unknown' | 'revoked' | 'ended';
const REFUSAL_REASONS: readonly string[] = ['unknown', 'revoked', 'ended'] satisfies RefusalReason[];

type UserViewer = Extract<Viewer, { kind: 'user' }>;

/** A viewer takes a few hundred bytes: some tens of thousands of credentials. */
export const DEFAULT_LOCAL_MAX_BYTES = 16 * 1024 * 1024;

/**
 * Viewer lookups, cached in-process and in Redis (see TaggedCache), each
 * credential's entry tagged with its user. A change to a user's
 * entitlement (plan, keys, sessions) purges that tag: from Redis, and
 * through pub/sub from every router at once.
 */
export class ViewerCache {
  private readonly cache: TaggedCache<UserViewer>;
  private readonly refused: LRUCache<string, RefusalReason>;

  constructor(
    private readonly state: SharedState,
    private readonly options: ViewerCacheOptions,
  ) {
    this.cache = new TaggedCache<UserViewer>(state, {
      component: 'viewer cache',
      names: { entry: 'viewer', tag: 'viewer-user', channel: 'viewer-invalidate' },
      purgeMessage: ONE_TAG,
      tagsOf: (viewer) => [viewer.userId],
      sharedTtlMs: () => options.sharedTtlMs,
      localTtlMs: () => options.localTtlMs,
      maxLocalBytes: options.maxLocalBytes ?? DEFAULT_LOCAL_MAX_BYTES,
      now: options.now,
    });
    this.refused = new LRUCache({ max: options.maxRefused ?? 50_000, ttl: Math.max(1, options.refusedTtlMs) });
  }

  /**
   * Take before a lookup; hand to `set` after it. A lookup that overlapped
   * an invalidation is not cached: it may hold what the invalidation just
   * removed. (For an API key the user is unknown until the lookup ends, so
   * this counts every user's.)
   */
  epoch(): number {
    return this.cache.generation;
  }

  async get(credential: string): Promise<UserViewer | undefined> {
    return (await this.cache.get(credential))?.value;
  }

  /** Caches a lookup unless an invalidation arrived while it was in flight. */
  async set(credential: string, viewer: UserViewer, epochAtStart: number): Promise<void> {
    if (this.cache.generation !== epochAtStart) return;
    await this.cache.set(credential, viewer);
  }

  /**
   * A credential refused lately, or undefined. Credentials are the cache's
   * keys (`key:<hash>`, `session:<id>`): a usable secret is never stored.
   */
  async refusal(credential: string): Promise<RefusalReason | undefined> {
    const hit = this.refused.get(credential);
    if (hit) return hit;
    const redis = this.state.redis;
    if (!redis || this.options.refusedTtlMs <= 0) return undefined;
    const reason = await redis.get(this.refusedKey(credential)).catch((e: unknown) => {
      this.state.fellBack('viewer cache', e);
      return null;
    });
    if (!reason || !REFUSAL_REASONS.includes(reason)) return undefined;
    this.refused.set(credential, reason as RefusalReason);
    return reason as RefusalReason;
  }

  async rememberRefusal(credential: string, reason: RefusalReason): Promise<void> {
    if (this.options.refusedTtlMs <= 0) return;
    this.refused.set(credential, reason);
    const redis = this.state.redis;
    if (!redis) return;
    await redis
      .set(this.refusedKey(credential), reason, 'PX', this.options.refusedTtlMs)
      .catch((e: unknown) => this.state.fellBack('viewer cache', e));
  }

  /** Forgets everything cached for a user, here, in Redis and on every other router. */
  async invalidateUser(userId: string): Promise<void> {
    await this.cache.purge([userId]);
  }

  private refusedKey(credential: string): string {
    return `${this.state.prefix}viewer-refused:${credential}`;
  }
}
