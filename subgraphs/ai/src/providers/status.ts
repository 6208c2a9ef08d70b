import type { RedisClient } from '@memegraph/service-kit';

import type { KeyStats } from './keyPool';

export type { KeyStats };

const REPORT_TTL_MS = 30_000;

/**
 * Workers publish their key pool's health here; the subgraph reads every
 * worker's. One hash, a field per worker: reading it is one command on one
 * node, where a key per worker would need a SCAN of the whole keyspace (of
 * every master, on a cluster) at each metrics scrape.
 */
export function keyStatusBoard(redis: RedisClient, prefix: string) {
  const key = `${prefix}ai-keys`;
  return {
    async publish(workerId: string, statuses: KeyStats[]) {
      const report = JSON.stringify({ at: Date.now(), statuses });
      // The hash goes when the last worker stops reporting; a single stale field is dropped by `read`.
      await redis.multi().hset(key, workerId, report).pexpire(key, REPORT_TTL_MS).exec();
    },
    async read(): Promise<KeyStats[]> {
      const reports = await redis.hgetall(key);
      const live: KeyStats[] = [];
      const gone: string[] = [];
      for (const [workerId, text] of Object.entries(reports)) {
        const report = JSON.parse(text) as { at: number; statuses: KeyStats[] };
        if (report.at > Date.now() - REPORT_TTL_MS) live.push(...report.statuses);
        else gone.push(workerId);
      }
      if (gone.length > 0) await redis.hdel(key, ...gone);
      return live;
    },
  };
}
