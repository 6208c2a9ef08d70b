import { createHash } from 'node:crypto';
import type { RedisClient } from '@memegraph/service-kit';

/** How long a finished generation answers the same request again, without a provider call. */
export const RESULT_TTL_MS = 10 * 60_000;

/** The same request, however it is spaced or cased: one key. */
export function resultKey(prompt: string, templateId: string): string {
  const normalized = prompt.toLowerCase().replace(/\s+/g, ' ').trim();
  return createHash('sha256').update(`${templateId}\0${normalized}`).digest('base64url');
}

/** Normalized request → the catalog meme it produced. Redis when configured, else this process. */
export interface ResultCache {
  get(key: string): Promise<string | undefined>;
  set(key: string, memeId: string): Promise<void>;
}

export function createResultCache(redis: RedisClient | null, prefix: string): ResultCache {
  if (redis) {
    return {
      get: async (key) => (await redis.get(`${prefix}ai-result:${key}`)) ?? undefined,
      set: async (key, memeId) => {
        await redis.set(`${prefix}ai-result:${key}`, memeId, 'PX', RESULT_TTL_MS);
      },
    };
  }
  const entries = new Map<string, { memeId: string; expiresAt: number }>();
  return {
    get: async (key) => {
      const entry = entries.get(key);
      if (!entry || entry.expiresAt < Date.now()) return undefined;
      return entry.memeId;
    },
    set: async (key, memeId) => {
      if (entries.size > 10_000) for (const [k, e] of entries) if (e.expiresAt < Date.now()) entries.delete(k);
      entries.set(key, { memeId, expiresAt: Date.now() + RESULT_TTL_MS });
    },
  };
}
