import { createHash } from 'node:crypto';
import { Cluster, Command, Redis } from 'ioredis';
import { z } from 'zod';
import { env } from './config';

/**
 * One Redis server or a Redis Cluster. Both take the same commands with the
 * same typings; on a cluster every multi-key command, script or MULTI must
 * keep its keys in one slot (give them one `{hash tag}`).
 */
export type RedisClient = Redis | Cluster;

export interface RedisNode {
  host: string;
  port: number;
}

/** Where Redis is: one server, or some nodes of a Redis Cluster (the client discovers the rest). */
export type RedisTarget = { url: string } | { clusterNodes: RedisNode[] };

// `host:port`, the host a name, an IPv4 address or a bracketed IPv6 address.
const HOST_PORT = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/;

/** The Redis settings every service that uses Redis reads, under these names. */
export const redisEnv = {
  REDIS_URL: env.optional(),
  /** Comma-separated `host:port` of some nodes of a Redis Cluster. */
  REDIS_CLUSTER_NODES: z
    .string()
    .transform((text, ctx): RedisNode[] => {
      const nodes: RedisNode[] = [];
      for (const item of text.split(',').map((s) => s.trim())) {
        const match = HOST_PORT.exec(item);
        const port = Number(match?.[3]);
        if (!match || port < 1 || port > 65535) {
          ctx.addIssue({
            code: 'custom',
            message: `"${item}" is not host:port (a comma-separated list, e.g. 10.0.0.1:7000,10.0.0.2:7000)`,
          });
          return z.NEVER;
        }
        nodes.push({ host: match[1] ?? match[2]!, port });
      }
      return nodes;
    })
    .optional(),
  /** Namespace of every key. Braces would change which keys share a cluster slot, and Memegraph chooses that itself. */
  REDIS_PREFIX: z
    .string()
    .regex(/^[^{}]*$/, 'must not contain { or }: Memegraph chooses the hash tags')
    .default('memegraph:'),
};

/** Which Redis the settings read with `redisEnv` name, if any; both at once is a configuration error. */
export function redisTargetOf(config: {
  REDIS_URL?: string;
  REDIS_CLUSTER_NODES?: RedisNode[];
}): RedisTarget | undefined {
  if (config.REDIS_URL && config.REDIS_CLUSTER_NODES) {
    throw new Error(
      'Invalid configuration:\n  REDIS_CLUSTER_NODES: set either REDIS_URL (one Redis) or REDIS_CLUSTER_NODES (a Redis Cluster), not both',
    );
  }
  if (config.REDIS_URL) return { url: config.REDIS_URL };
  if (config.REDIS_CLUSTER_NODES) return { clusterNodes: config.REDIS_CLUSTER_NODES };
  return undefined;
}

const retryDelay = (attempt: number) => Math.min(attempt * 200, 2_000);
const CLUSTER_MAX_REDIRECTIONS = 3;

export interface RedisConnectionOptions {
  /** Tries of a command across reconnects; null: until it succeeds (BullMQ's blocking connections need that). Default 1. */
  maxRetriesPerRequest?: number | null;
  /** Hold commands while disconnected instead of failing them at once. Default false. */
  offlineQueue?: boolean;
  /**
   * Send the commands issued in one tick of the event loop in one write (ioredis's auto-pipelining).
   * Default false; not for a connection that runs blocking commands, which would hold the others up.
   */
  autoPipelining?: boolean;
  /**
   * How long Redis may send nothing while a reply is awaited before the
   * connection counts as frozen (a stopped server, a network black hole: the
   * TCP connection stays open but no reply comes). Unset: commands wait as
   * long as the connection stays open. Not for a connection that runs
   * blocking commands (BullMQ's), whose replies are meant to take long.
   */
  commandTimeoutMs?: number;
}

/**
 * A Redis connection for shared state. By default, while Redis is away,
 * commands fail at once instead of queueing (callers fall back to this
 * instance's own state), and the connection keeps retrying in the
 * background. On a cluster, commands go to the master of their key's slot.
 */
export function createRedis(url: string, name: string, options?: RedisConnectionOptions): Redis;
export function createRedis(target: RedisTarget, name: string, options?: RedisConnectionOptions): RedisClient;
export function createRedis(
  target: string | RedisTarget,
  name: string,
  options: RedisConnectionOptions = {},
): RedisClient {
  const node = {
    connectionName: name,
    maxRetriesPerRequest: options.maxRetriesPerRequest === undefined ? 1 : options.maxRetriesPerRequest,
    connectTimeout: 2_000,
    // A frozen Redis, when `commandTimeoutMs` is set: once Redis has sent nothing for that long while a reply
    // is awaited, ioredis drops the connection (socketTimeout) and reconnects as after any loss. The commands
    // it was waiting for fail then (no retries: a retry would wait for the same frozen Redis), and, without
    // the offline queue, every command fails at once until a new connection is ready, i.e. until Redis answers
    // the handshake again (a reconnect to a Redis still frozen is dropped the same way). So callers fall back
    // to their own state after one timeout, not one per command, and return to Redis by themselves. ioredis's
    // commandTimeout would fail each command alone and leave the connection up, every later command (a
    // caller's fallback first of all) waiting the whole timeout again.
    ...(options.commandTimeoutMs !== undefined && {
      socketTimeout: options.commandTimeoutMs,
      maxRetriesPerRequest: 0,
    }),
  };
  const common = {
    enableOfflineQueue: options.offlineQueue ?? false,
    enableReadyCheck: true,
    enableAutoPipelining: options.autoPipelining ?? false,
  };
  const redis: RedisClient =
    typeof target === 'object' && 'clusterNodes' in target
      ? new Cluster(target.clusterNodes, {
          ...common,
          clusterRetryStrategy: retryDelay,
          // A command to a lost master, or while the cluster is down, is retried every 100 ms up to
          // this many times before it fails (16 by default: 1.6 s per command a request waits for).
          // A slot that moved needs one or two; past that the caller's fallback is quicker.
          maxRedirections: CLUSTER_MAX_REDIRECTIONS,
          redisOptions: node,
        })
      : new Redis(typeof target === 'string' ? target : target.url, { ...node, ...common, retryStrategy: retryDelay });
  // Connection errors are expected while Redis is down; the callers' fallbacks handle them.
  redis.on('error', () => undefined);
  return redis;
}

/**
 * A Lua script run by its SHA1 (EVALSHA), so each call sends the hash
 * rather than the script; a server that does not know it yet (one just
 * started, or another cluster node) is sent the script once (EVAL), which
 * also stores it there. On a cluster the call goes to the master of the
 * first key's slot: every key, declared or built inside the script, must be
 * in that slot.
 */
export function redisScript(
  lua: string,
  options: {
    /**
     * Sent as soon as it is called, not auto-pipelined with the other commands of its tick (when the client
     * auto-pipelines): for a call that already carries a batch of its own, which gains nothing from joining
     * others and would pay a pipeline and a tick's wait for each.
     */
    alone?: boolean;
  } = {},
) {
  const sha = createHash('sha1').update(lua).digest('hex');
  const { alone = false } = options;
  return async (redis: RedisClient, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> => {
    try {
      return await (alone
        ? redis.sendCommand(new Command('evalsha', [sha, keys.length, ...keys, ...args], { replyEncoding: 'utf8' }))
        : redis.evalsha(sha, keys.length, ...keys, ...args));
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error;
      return redis.eval(lua, keys.length, ...keys, ...args);
    }
  };
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

export type { Cluster, Redis };
