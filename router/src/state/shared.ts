import { createRedis, type Logger, type Redis } from '@memegraph/service-kit';

/**
 * Where state shared by every router lives: Redis when configured, else
 * this process alone (one instance only). Keys carry the namespace prefix.
 * While Redis is away, each store falls back to this process's own state
 * (limits per instance, caches bypassed) and returns to Redis when it is back.
 */
export interface SharedState {
  redis: Redis | null;
  /** Called when a Redis command fails and this instance's own state answers instead. */
  fellBack(component: string, error: unknown): void;
  /** A second connection for pub/sub (a subscribing connection can do nothing else). */
  subscriber: Redis | null;
  prefix: string;
  close(): Promise<void>;
}

export function openSharedState(redisUrl: string | undefined, prefix: string, log?: Logger): SharedState {
  if (!redisUrl) return { redis: null, subscriber: null, prefix, fellBack: () => undefined, close: async () => undefined };
  const redis = createRedis(redisUrl, 'memegraph-router');
  const subscriber = redis.duplicate({ connectionName: 'memegraph-router-sub' });
  subscriber.on('error', () => undefined);
  // One warning per component every ten seconds, not one per request.
  const warned = new Map<string, number>();
  return {
    redis,
    subscriber,
    prefix,
    fellBack(component, error) {
      const now = Date.now();
      if ((warned.get(component) ?? 0) > now - 10_000) return;
      warned.set(component, now);
      log?.warn({ component, err: error }, 'Redis unavailable: using this instance\'s own state');
    },
    async close() {
      await Promise.allSettled([redis.quit(), subscriber.quit()]);
    },
  };
}
