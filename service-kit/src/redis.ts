import { Redis } from 'ioredis';

/**
 * A Redis connection for shared state. While Redis is away, commands fail
 * at once instead of queueing (callers fall back to this instance's own
 * state), and the connection keeps retrying in the background.
 */
export function createRedis(url: string, name: string): Redis {
  const redis = new Redis(url, {
    connectionName: name,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    enableReadyCheck: true,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  // Connection errors are expected while Redis is down; the callers' fallbacks handle them.
  redis.on('error', () => undefined);
  return redis;
}

/**
 * `primary`'s methods, falling back to `fallback`'s when they fail: shared
 * state in Redis, this instance's own while Redis is away.
 */
export function withFallback<T extends object>(primary: T, fallback: T, onFallback: (error: unknown) => void): T {
  return new Proxy(primary, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } catch (error) {
          onFallback(error);
          const backup = Reflect.get(fallback, property) as (...a: unknown[]) => Promise<unknown>;
          return backup.apply(fallback, args);
        }
      };
    },
  });
}

export type { Redis };
