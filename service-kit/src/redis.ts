import { Redis } from 'ioredis';

/**
 * A Redis connection for shared state. Commands fail fast rather than
 * queueing forever when Redis is away, so a request never hangs on it.
 */
export function createRedis(url: string, name: string): Redis {
  return new Redis(url, {
    connectionName: name,
    maxRetriesPerRequest: 2,
    enableReadyCheck: true,
  });
}

export type { Redis };
