import type { RedisClient } from '@memegraph/service-kit';

/** Generations per user per minute, counted where every instance sees them. */
export interface GenerationRateLimit {
  /** Counts one generation; returns how many the user started this minute. */
  hit(userId: string): Promise<number>;
}

export function createGenerationRateLimit(redis: RedisClient | null, prefix: string): GenerationRateLimit {
  if (redis) {
    return {
      async hit(userId) {
        const key = `${prefix}ai-rate:${userId}:${Math.floor(Date.now() / 60_000)}`;
        const [[, count]] = (await redis.multi().incr(key).pexpire(key, 120_000).exec()) as [[null, number], unknown];
        return count;
      },
    };
  }
  const counts = new Map<string, number>();
  let minute = Math.floor(Date.now() / 60_000);
  return {
    async hit(userId) {
      const now = Math.floor(Date.now() / 60_000);
      if (now !== minute) {
        counts.clear();
        minute = now;
      }
      const count = (counts.get(userId) ?? 0) + 1;
      counts.set(userId, count);
      return count;
    },
  };
}
