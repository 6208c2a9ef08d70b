import type { KeyValueCache, KeyValueCacheSetOptions } from '@apollo/utils.keyvaluecache';
import type { SharedState } from './shared';

/** Apollo's KeyValueCache over Redis, for state Apollo Server keeps (APQ): every router sees every entry. */
export class RedisKeyValueCache implements KeyValueCache<string> {
  constructor(
    private readonly state: SharedState & { redis: NonNullable<SharedState['redis']> },
    private readonly prefix: string,
    private readonly defaultTtlSeconds: number,
  ) {}

  // While Redis is away an unknown hash is just unknown: clients resend the query.
  async get(key: string): Promise<string | undefined> {
    try {
      return (await this.state.redis.get(this.prefix + key)) ?? undefined;
    } catch (error) {
      this.state.fellBack('persisted queries', error);
      return undefined;
    }
  }

  async set(key: string, value: string, options?: KeyValueCacheSetOptions): Promise<void> {
    const ttl = options?.ttl ?? this.defaultTtlSeconds;
    try {
      if (ttl) await this.state.redis.set(this.prefix + key, value, 'EX', ttl);
      else await this.state.redis.set(this.prefix + key, value);
    } catch (error) {
      this.state.fellBack('persisted queries', error);
    }
  }

  async delete(key: string): Promise<boolean> {
    try {
      return (await this.state.redis.del(this.prefix + key)) > 0;
    } catch (error) {
      this.state.fellBack('persisted queries', error);
      return false;
    }
  }
}
