import { randomBytes } from 'node:crypto';
import { getGraphQLRateLimiter, type Identity, type Store } from 'graphql-rate-limit';
import type { GraphQLResolveInfo } from 'graphql';
import type { SharedState } from '../state/shared';

/**
 * graphql-rate-limit's limiter reads an identity's call timestamps, decides,
 * then writes them back. Two routers doing that at once could both admit
 * the last call, so this store holds a lock from the read to the write:
 * per identity, exactly one decision at a time across every router.
 */
abstract class LockingStore implements Store {
  private readonly held = new Map<string, string[]>();

  protected abstract lock(key: string): Promise<string>;
  protected abstract unlock(key: string, token: string): Promise<void>;
  protected abstract read(key: string): Promise<number[]>;
  protected abstract write(key: string, timestamps: readonly number[], windowMs: number): Promise<void>;

  private key(identity: Identity): string {
    return `frl:${identity.contextIdentity}:${identity.fieldIdentity}`;
  }

  async getForIdentity(identity: Identity): Promise<readonly number[]> {
    const key = this.key(identity);
    const token = await this.lock(key);
    const tokens = this.held.get(key) ?? [];
    tokens.push(token);
    this.held.set(key, tokens);
    try {
      return await this.read(key);
    } catch (error) {
      await this.release(key);
      throw error;
    }
  }

  async setForIdentity(identity: Identity, timestamps: readonly number[], windowMs = 60_000): Promise<void> {
    const key = this.key(identity);
    try {
      await this.write(key, timestamps, windowMs);
    } finally {
      await this.release(key);
    }
  }

  private async release(key: string): Promise<void> {
    const token = this.held.get(key)?.shift();
    if (this.held.get(key)?.length === 0) this.held.delete(key);
    if (token) await this.unlock(key, token);
  }
}

const LOCK_TTL_MS = 5_000;
const LOCK_WAIT_MS = 5_000;
const UNLOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

class RedisLockingStore extends LockingStore {
  constructor(
    private readonly redis: NonNullable<SharedState['redis']>,
    private readonly prefix: string,
  ) {
    super();
  }

  protected async lock(key: string): Promise<string> {
    const token = randomBytes(12).toString('base64url');
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (let attempt = 0; ; attempt++) {
      // The lock expires by itself, so a router that dies holding it blocks nobody for long.
      if ((await this.redis.set(`${this.prefix}${key}:lock`, token, 'PX', LOCK_TTL_MS, 'NX')) === 'OK') return token;
      if (Date.now() > deadline) throw new Error('rate limit lock not acquired in time');
      await new Promise((r) => setTimeout(r, Math.min(2 + attempt, 20) * (0.5 + Math.random())));
    }
  }

  protected async unlock(key: string, token: string): Promise<void> {
    await this.redis.eval(UNLOCK, 1, `${this.prefix}${key}:lock`, token);
  }

  protected async read(key: string): Promise<number[]> {
    const raw = await this.redis.get(`${this.prefix}${key}`);
    return raw ? (JSON.parse(raw) as number[]) : [];
  }

  protected async write(key: string, timestamps: readonly number[], windowMs: number): Promise<void> {
    await this.redis.set(`${this.prefix}${key}`, JSON.stringify(timestamps), 'PX', windowMs);
  }
}

class MemoryLockingStore extends LockingStore {
  private readonly queues = new Map<string, Promise<void>>();
  private readonly releases = new Map<string, () => void>();
  private readonly data = new Map<string, { timestamps: readonly number[]; expiresAt: number }>();

  protected async lock(key: string): Promise<string> {
    const previous = this.queues.get(key) ?? Promise.resolve();
    let release!: () => void;
    const current = new Promise<void>((resolve) => (release = resolve));
    this.queues.set(key, previous.then(() => current));
    await previous;
    const token = randomBytes(6).toString('hex');
    this.releases.set(`${key}:${token}`, release);
    return token;
  }

  protected async unlock(key: string, token: string): Promise<void> {
    this.releases.get(`${key}:${token}`)?.();
    this.releases.delete(`${key}:${token}`);
  }

  protected async read(key: string): Promise<number[]> {
    const entry = this.data.get(key);
    return entry && entry.expiresAt > Date.now() ? [...entry.timestamps] : [];
  }

  protected async write(key: string, timestamps: readonly number[], windowMs: number): Promise<void> {
    this.data.set(key, { timestamps, expiresAt: Date.now() + windowMs });
  }
}

export interface FieldLimit {
  max: number;
  window: string;
}

/** Checks one call of a `@rateLimit` field; resolves to an error message when over the limit. */
export type FieldRateLimiter = (call: { viewerKey: string; fieldName: string; args: Record<string, unknown> }, limit: FieldLimit) => Promise<string | undefined>;

export function createFieldRateLimiter(state: SharedState): FieldRateLimiter {
  const store = state.redis ? new RedisLockingStore(state.redis, state.prefix) : new MemoryLockingStore();
  const limiter = getGraphQLRateLimiter({
    store,
    identifyContext: (context: { viewerKey: string }) => context.viewerKey,
    formatError: ({ fieldName, max, window }) =>
      `Too many calls of ${fieldName}: at most ${max} every ${Math.round(window / 1000)} s`,
  });
  return (call, limit) =>
    limiter(
      {
        parent: undefined,
        args: call.args,
        context: { viewerKey: call.viewerKey },
        // The limiter reads only the field's name from `info`.
        info: { fieldName: call.fieldName } as GraphQLResolveInfo,
      },
      { max: limit.max, window: limit.window },
    );
}
