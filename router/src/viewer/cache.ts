import { LRUCache } from 'lru-cache';
import type { Viewer } from '@memegraph/service-kit';
import type { SharedState } from '../state/shared';
import { TaggedEntries } from '../state/taggedEntries';

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
  maxEntries?: number;
}

/** Why the users subgraph refused a credential. */
export type RefusalReason = 'unknown' | 'revoked' | 'ended';
const REFUSAL_REASONS: readonly string[] = ['unknown', 'revoked', 'ended'] satisfies RefusalReason[];

type UserViewer = Extract<Viewer, { kind: 'user' }>;

/**
 * Viewer lookups, cached in-process and in Redis. A change to a user's
 * entitlement (plan, keys, sessions) is published on Redis; every router
 * drops that user's entries at once. In Redis each credential's entry is tagged with
 * its user (see TaggedEntries), so a user's entries go in one purge.
 */
export class ViewerCache {
  private readonly local: LRUCache<string, UserViewer>;
  /** userId → credential keys cached locally, to drop them all on a change. */
  private readonly byUser = new Map<string, Set<string>>();
  /**
   * Invalidations seen so far. A lookup that overlapped one is not cached:
   * it may hold what the invalidation just removed. (For an API key the
   * user is unknown until the lookup ends, so this counts every user's.)
   */
  private invalidations = 0;
  private readonly channel: string;
  private readonly shared: TaggedEntries | null;
  private readonly refused: LRUCache<string, RefusalReason>;

  constructor(
    private readonly state: SharedState,
    private readonly options: ViewerCacheOptions,
  ) {
    this.local = new LRUCache({
      max: options.maxEntries ?? 50_000,
      ttl: options.localTtlMs,
      dispose: (viewer, key) => this.byUser.get(viewer.userId)?.delete(key),
    });
    this.refused = new LRUCache({ max: options.maxEntries ?? 50_000, ttl: Math.max(1, options.refusedTtlMs) });
    this.shared = state.redis ? new TaggedEntries(state.redis, { prefix: state.prefix, entry: 'viewer', tag: 'viewer-user' }) : null;
    this.channel = `${state.prefix}viewer-invalidate`;
    state.listen(this.channel, (userId) => this.dropLocal(userId));
  }

  /** Take before a lookup; hand to `set` after it. */
  epoch(): number {
    return this.invalidations;
  }

  async get(credential: string): Promise<UserViewer | undefined> {
    const hit = this.local.get(credential);
    if (hit) return hit;
    if (!this.shared) return undefined;
    const raw = await this.shared.get(credential).catch((e: unknown) => {
      this.state.fellBack('viewer cache', e);
      return null;
    });
    if (!raw) return undefined;
    const viewer = JSON.parse(raw) as UserViewer;
    this.remember(credential, viewer);
    return viewer;
  }

  /** Caches a lookup unless an invalidation arrived while it was in flight. */
  async set(credential: string, viewer: UserViewer, epochAtStart: number): Promise<void> {
    if (this.invalidations !== epochAtStart) return;
    this.remember(credential, viewer);
    if (!this.shared) return;
    await this.shared
      .set(credential, JSON.stringify(viewer), this.options.sharedTtlMs, [viewer.userId])
      .catch((e: unknown) => this.state.fellBack('viewer cache', e));
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
    this.dropLocal(userId);
    const redis = this.state.redis;
    if (!this.shared || !redis) return;
    try {
      // Redis first: a router that drops its copy on the message must not read the old entry back.
      await this.shared.purge([userId]);
      await redis.publish(this.channel, userId);
    } catch (error) {
      // Other routers keep their copy until its TTL ends; nothing here can reach them now.
      this.state.fellBack('viewer invalidation', error);
    }
  }

  private refusedKey(credential: string): string {
    return `${this.state.prefix}viewer-refused:${credential}`;
  }

  private remember(credential: string, viewer: UserViewer): void {
    this.local.set(credential, viewer);
    let keys = this.byUser.get(viewer.userId);
    if (!keys) this.byUser.set(viewer.userId, (keys = new Set()));
    keys.add(credential);
  }

  private dropLocal(userId: string): void {
    this.invalidations++;
    for (const credential of this.byUser.get(userId) ?? []) this.local.delete(credential);
    this.byUser.delete(userId);
  }
}
