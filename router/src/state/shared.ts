import { createRedis, type Logger, type RedisClient, type RedisTarget } from '@memegraph/service-kit';

/**
 * Where state shared by every router lives: Redis (one server or a Redis
 * Cluster) when configured, else this process alone (one instance only).
 * Keys carry the namespace prefix. While Redis is away, each store falls
 * back to this process's own state (limits per instance, caches bypassed)
 * and returns to Redis when it is back.
 */
export interface SharedState {
  /** Commands whose keys are in one slot work the same on both kinds of Redis; see `shards.ts` for the rest. */
  redis: RedisClient | null;
  /** Called when a Redis command fails and this instance's own state answers instead. */
  fellBack(component: string, error: unknown): void;
  prefix: string;
  /**
   * Calls `onMessage` for each message on `channel` from every router.
   * Nothing happens without Redis. The subscription is made whenever the
   * connection is ready, so it survives Redis going away and coming back.
   */
  listen(channel: string, onMessage: (message: string) => void | Promise<void>): void;
  /** Resolves true once the connection is ready (at once when it is), false after `timeoutMs` without it or without Redis. */
  connected(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

function whenReady(client: RedisClient, timeoutMs: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      resolve(false);
    }, timeoutMs);
    client.once('ready', onReady);
  });
}

/**
 * `commandTimeoutMs`: how long Redis may send no reply before this router
 * treats it as away (a frozen Redis); see `createRedis`.
 */
export function openSharedState(
  target: RedisTarget | undefined,
  prefix: string,
  log?: Logger,
  { commandTimeoutMs }: { commandTimeoutMs?: number } = {},
): SharedState {
  if (!target)
    return {
      redis: null,
      prefix,
      fellBack: () => undefined,
      listen: () => undefined,
      connected: async () => false,
      close: async () => undefined,
    };
  // Every request makes a few small commands (limits, quota, bucket): on one Redis, requests in
  // flight together share one write instead of a system call each. Not on a cluster: ioredis's
  // auto-pipelines fail with MOVED, instead of following it, while slots change hands in a
  // failover (redis/ioredis#2075; test/redis-cluster-failover.e2e.ts).
  // A frozen Redis drops the connection after one timeout, and commands fail at once until it answers again
  // (createRedis): every store's fallback, and readiness's PING, then answer without waiting on it.
  const redis = createRedis(target, 'memegraph-router', {
    autoPipelining: !('clusterNodes' in target),
    commandTimeoutMs,
  });
  // A subscribing connection can do nothing else: pub/sub gets its own. On a cluster
  // a PUBLISH reaches the subscribers of every node, so any one node will do. No request waits
  // on its replies, so it has no command timeout: ioredis's times only a command waiting for
  // its reply (here, a SUBSCRIBE), and a router whose event loop was held up past it read the
  // reply late and dropped a healthy connection (seen in test/scale-out.e2e.ts as a pub/sub
  // fallback), hearing no purges until it subscribed again.
  const subscriber = createRedis(target, 'memegraph-router-sub');
  const handlers = new Map<string, (message: string) => void | Promise<void>>();
  subscriber.on('message', (channel: string, message: string) => {
    const handler = handlers.get(channel);
    if (!handler) return;
    // A message this router cannot use (another version's, a stray PUBLISH) is logged and dropped;
    // it must not stop the process.
    Promise.resolve()
      .then(() => handler(message))
      .catch((error: unknown) => log?.warn({ err: error, channel }, 'pub/sub message dropped'));
  });
  // One warning per component every ten seconds, not one per request.
  const warned = new Map<string, number>();
  const fellBack = (component: string, error: unknown) => {
    const now = Date.now();
    if ((warned.get(component) ?? 0) > now - 10_000) return;
    warned.set(component, now);
    log?.warn({ component, err: error }, "Redis unavailable: using this instance's own state");
  };
  // ioredis does not queue commands while connecting (see createRedis): subscribe once ready, and again after a reconnect.
  const subscribe = (channels: string[]) => {
    if (channels.length > 0 && subscriber.status === 'ready')
      subscriber.subscribe(...channels).catch((e: unknown) => fellBack('pub/sub', e));
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
    async connected(timeoutMs) {
      const [commands, messages] = await Promise.all([whenReady(redis, timeoutMs), whenReady(subscriber, timeoutMs)]);
      return commands && messages;
    },
    async close() {
      await Promise.allSettled([redis.quit(), subscriber.quit()]);
    },
  };
}
