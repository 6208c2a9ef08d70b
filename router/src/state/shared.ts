import { createRedis, type Redis } from '@memegraph/service-kit';

/**
 * Where state shared by every router lives: Redis when configured, else
 * this process alone (one instance only). Keys carry the namespace prefix.
 */
export interface SharedState {
  redis: Redis | null;
  /** A second connection for pub/sub (a subscribing connection can do nothing else). */
  subscriber: Redis | null;
  prefix: string;
  close(): Promise<void>;
}

export function openSharedState(redisUrl: string | undefined, prefix: string): SharedState {
  if (!redisUrl) return { redis: null, subscriber: null, prefix, close: async () => undefined };
  const redis = createRedis(redisUrl, 'memegraph-router');
  const subscriber = redis.duplicate({ connectionName: 'memegraph-router-sub' });
  return {
    redis,
    subscriber,
    prefix,
    async close() {
      await Promise.allSettled([redis.quit(), subscriber.quit()]);
    },
  };
}
