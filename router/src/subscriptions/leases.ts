import { redisScript } from '@memegraph/service-kit';
import type { SharedState } from '../state/shared';

/**
 * Takes a lease for `member` unless the viewer holds `max` live ones: a
 * sorted set of subscription ids scored by when their lease ends, so the
 * subscriptions of a router that died stop counting once their leases lapse.
 */
const ACQUIRE = redisScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`);

/**
 * Open subscriptions per viewer, on every router together (in Redis; this
 * router's own while Redis is away). Each router renews the leases of its
 * own subscriptions every `renewMs`; a lease lasts three renewals.
 */
export class SubscriptionLeases {
  private readonly local = new Map<string, Set<string>>();
  private readonly ttlMs: number;

  constructor(
    private readonly state: SharedState,
    renewMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.ttlMs = renewMs * 3;
  }

  private key(viewerKey: string) {
    return `${this.state.prefix}subscriptions:{${viewerKey}}`;
  }

  /** Takes one of the viewer's `max` places for `id`; false when they are all taken. */
  async acquire(viewerKey: string, id: string, max: number): Promise<boolean> {
    const mine = this.local.get(viewerKey) ?? new Set<string>();
    let granted: boolean;
    const redis = this.state.redis;
    if (redis) {
      try {
        const now = this.now();
        granted = (await ACQUIRE(redis, [this.key(viewerKey)], [now, now + this.ttlMs, max, id, this.ttlMs])) === 1;
      } catch (error) {
        this.state.fellBack('subscription leases', error);
        granted = mine.size < max;
      }
    } else {
      granted = mine.size < max;
    }
    if (granted) {
      mine.add(id);
      this.local.set(viewerKey, mine);
    }
    return granted;
  }

  async release(viewerKey: string, id: string): Promise<void> {
    const mine = this.local.get(viewerKey);
    mine?.delete(id);
    if (mine?.size === 0) this.local.delete(viewerKey);
    await this.state.redis?.zrem(this.key(viewerKey), id).catch((e: unknown) => {
      this.state.fellBack('subscription leases', e);
    });
  }

  /** Extends the leases of this router's subscriptions. */
  async renew(): Promise<void> {
    const redis = this.state.redis;
    if (!redis) return;
    const until = this.now() + this.ttlMs;
    await Promise.all(
      [...this.local].map(async ([viewerKey, ids]) => {
        const key = this.key(viewerKey);
        await redis.zadd(key, ...[...ids].flatMap((id) => [until, id]));
        await redis.pexpire(key, this.ttlMs);
      }),
    ).catch((e: unknown) => this.state.fellBack('subscription leases', e));
  }
}
