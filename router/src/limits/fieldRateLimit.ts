import { randomBytes } from 'node:crypto';
import { getGraphQLRateLimiter, type Identity, type Store } from 'graphql-rate-limit';
import type { GraphQLResolveInfo } from 'graphql';
import { redisScript, withFallback } from '@memegraph/service-kit';
import type { SharedState } from '../state/shared';

export interface FieldLimit {
  max: number;
  window: string;
}

/** Window lengths graphql-rate-limit accepts (`ms` syntax), in milliseconds. */
function windowMs(window: string): number {
  const match = /^(\d+)\s*(ms|s|m|h|d)?$/.exec(window.trim());
  if (!match) throw new Error(`unsupported @rateLimit window "${window}"`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] ?? 'ms']!;
  return Number(match[1]) * unit;
}

/**
 * graphql-rate-limit's limiter reads an identity's call timestamps, decides,
 * then writes them back: two routers doing that at once could both admit the
 * last call. This store makes the read the decision: it atomically counts
 * the calls in the window and, when there is room, records this one, then
 * answers so that the limiter reaches the same verdict. The write-back is
 * then redundant and ignored. Every router shares one count; none can admit
 * more than `max` in a window.
 */
abstract class ReservingStore implements Store {
  /** The limit of each field, set before the limiter runs for it; shared with the fallback store. */
  constructor(private readonly limits: ReadonlyMap<string, { max: number; windowMs: number }>) {}

  protected abstract reserve(key: string, now: number, windowMs: number, max: number): Promise<number>;

  async getForIdentity(identity: Identity): Promise<readonly number[]> {
    const fieldName = identity.fieldIdentity.split(':')[0]!;
    const limit = this.limits.get(fieldName);
    if (!limit) throw new Error(`no @rateLimit known for ${fieldName}`);
    const now = Date.now();
    const before = await this.reserve(
      `frl:${identity.contextIdentity}:${identity.fieldIdentity}`,
      now,
      limit.windowMs,
      limit.max,
    );
    // The limiter only counts these: `before` calls, all still inside the window.
    return Array.from({ length: before }, () => now);
  }

  setForIdentity(): void {
    // Recorded atomically by getForIdentity already.
  }
}

// Drop calls that left the window, count the rest, record this call if there is room.
const RESERVE = redisScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
local count = redis.call('ZCARD', KEYS[1])
if count < tonumber(ARGV[3]) then redis.call('ZADD', KEYS[1], ARGV[1], ARGV[1] .. ':' .. ARGV[4]) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return count
`);

class RedisReservingStore extends ReservingStore {
  constructor(
    limits: ReadonlyMap<string, { max: number; windowMs: number }>,
    private readonly redis: NonNullable<SharedState['redis']>,
    private readonly prefix: string,
  ) {
    super(limits);
  }

  protected async reserve(key: string, now: number, windowMs: number, max: number): Promise<number> {
    return (await RESERVE(
      this.redis,
      [`${this.prefix}${key}`],
      [now, windowMs, max, randomBytes(6).toString('hex')],
    )) as number;
  }
}

class MemoryReservingStore extends ReservingStore {
  private readonly calls = new Map<string, number[]>();

  protected async reserve(key: string, now: number, windowMs: number, max: number): Promise<number> {
    // No await between counting and recording: atomic within this process.
    const live = (this.calls.get(key) ?? []).filter((t) => t > now - windowMs);
    const count = live.length;
    if (count < max) live.push(now);
    this.calls.set(key, live);
    return count;
  }
}

/** Checks one call of a `@rateLimit` field; resolves to an error message when over the limit. */
export type FieldRateLimiter = (
  call: { viewerKey: string; fieldName: string; args: Record<string, unknown> },
  limit: FieldLimit,
) => Promise<string | undefined>;

export function createFieldRateLimiter(state: SharedState): FieldRateLimiter {
  const limits = new Map<string, { max: number; windowMs: number }>();
  const memory = new MemoryReservingStore(limits);
  const store = state.redis
    ? withFallback<ReservingStore>(new RedisReservingStore(limits, state.redis, state.prefix), memory, (e) =>
        state.fellBack('field rate limits', e),
      )
    : memory;
  const limiter = getGraphQLRateLimiter({
    store,
    identifyContext: (context: { viewerKey: string }) => context.viewerKey,
    formatError: ({ fieldName, max, window }) =>
      `Too many calls of ${fieldName}: at most ${max} every ${Math.round(window / 1000)} s`,
  });
  return (call, limit) => {
    limits.set(call.fieldName, { max: limit.max, windowMs: windowMs(limit.window) });
    return limiter(
      {
        parent: undefined,
        args: call.args,
        context: { viewerKey: call.viewerKey },
        // The limiter reads only the field's name from `info`.
        info: { fieldName: call.fieldName } as GraphQLResolveInfo,
      },
      { max: limit.max, window: limit.window },
    );
  };
}
