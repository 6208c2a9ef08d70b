import type { KeyValueCache, KeyValueCacheSetOptions } from '@apollo/utils.keyvaluecache';
import type { SharedState } from './shared';

/** Apollo's KeyValueCache over Redis, for state Apollo Server keeps (APQ): every router sees every entry. */
export class RedisKeyValueCache implements KeyValueCache<string> {
  constructor(
    private readonly redis: NonNullable<SharedState['redis']>,
    private readonly prefix: string,
    private readonly defaultTtlSeconds: number,
  ) {}

  async get(key: string): Promise<string | undefined> {
    return (await this.redis.get(this.prefix + key)) ?? undefined;
  }

  async set(key: string, value: string, options?: KeyValueCacheSetOptions): Promise<void> {
    const ttl = options?.ttl ?? this.defaultTtlSeconds;
    if (ttl) await this.redis.set(this.prefix + key, value, 'EX', ttl);
    else await this.redis.set(this.prefix + key, value);
  }

  async delete(key: string): Promise<boolean> {
    return (await this.redis.del(this.prefix + key)) > 0;
  }
}
