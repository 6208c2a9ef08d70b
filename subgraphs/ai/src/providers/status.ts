import type { Redis } from '@memegraph/service-kit';

import type { KeyStats } from './keyPool';

export type { KeyStats };

const REPORT_TTL_MS = 30_000;

/** Workers publish their key pool's health here; the subgraph reads every worker's. */
export function keyStatusBoard(redis: Redis, prefix: string) {
  return {
    async publish(workerId: string, statuses: KeyStats[]) {
      await redis.set(`${prefix}ai-keys:${workerId}`, JSON.stringify(statuses), 'PX', REPORT_TTL_MS);
    },
    async read(): Promise<KeyStats[]> {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}ai-keys:*`, 'COUNT', 100);
        keys.push(...batch);
        cursor = next;
      } while (cursor !== '0');
      if (keys.length === 0) return [];
      const values = await redis.mget(...keys);
      return values.flatMap((v) => (v ? (JSON.parse(v) as KeyStats[]) : []));
    },
  };
}
