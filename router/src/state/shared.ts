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
  prefix: string;
  /**
   * Calls `onMessage` for each message on `channel` from every router.
   * Nothing happens without Redis. The subscription is made whenever the
   * connection is ready, so it survives Redis going away and coming back.
   */
  listen(channel: string, onMessage: (message: string) => void): void;
  close(): Promise<void>;
}

export function openSharedState(redisUrl: string | undefined, prefix: string, log?: Logger): SharedState {
  if (!redisUrl) return { redis: null, prefix, fellBack: () => undefined, listen: () => undefined, close: async () => undefined };
  const redis = createRedis(redisUrl, 'memegraph-router');
  // A subscribing connection can do nothing else: pub/sub gets its own.
  const subscriber = redis.duplicate({ connectionName: 'memegraph-router-sub' });
  subscriber.on('error', () => undefined);
  const handlers = new Map<string, (message: string) => void>();
  subscriber.on('message', (channel: string, message: string) => handlers.get(channel)?.(message));
  // One warning per component every ten seconds, not one per request.
  const warned = new Map<string, number>();
  const fellBack = (component: string, error: unknown) => {
    const now = Date.now();
    if ((warned.get(component) ?? 0) > now - 10_000) return;
    warned.set(component, now);
    log?.warn({ component, err: error }, 'Redis unavailable: using this instance\'s own state');
  };
  // ioredis does not queue commands while connecting (see createRedis): subscribe once ready, and again after a reconnect.
  const subscribe = (channels: string[]) => {
    if (channels.length > 0 && subscriber.status === 'ready') subscriber.subscribe(...channels).catch((e: unknown) => fellBack('pub/sub', e));
  };
  subscriber.on('ready', () => subscribe([...handlers.keys()]));
  return {
    redis,
    prefix,
    fellBack,
    listen(channel, onMessage) {
      handlers.set(channel, onMessage);
      subscribe([channel]);
    },
    async close() {
      await Promise.allSettled([redis.quit(), subscriber.quit()]);
    },
  };
}
