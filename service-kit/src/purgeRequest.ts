import { randomUUID } from 'node:crypto';

/**
 * Purge requests from services other than routers (the AI worker), on
 * `<REDIS_PREFIX>cache-purge-request`. A message is a JSON array of cache
 * tags, which routers of every version understand. This version puts a
 * request id first (`~request:<uuid>`, a tag no entry carries), so that one
 * router claims the request and purges Redis once; a list without one, from
 * a worker of an earlier version, is purged by every router, as then.
 */
export const PURGE_REQUEST_CHANNEL = 'cache-purge-request';

const REQUEST_ID = '~request:';

export function purgeRequestMessage(tags: readonly string[]): string {
  return JSON.stringify([`${REQUEST_ID}${randomUUID()}`, ...tags]);
}

/** The request's id (null from an earlier version's worker) and tags; null for a message that is not a list of tags. */
export function readPurgeRequest(message: string): { id: string | null; tags: string[] } | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return null;
  }
  if (!Array.isArray(parsed) || !parsed.every((tag): tag is string => typeof tag === 'string')) return null;
  const [first, ...rest] = parsed;
  if (first?.startsWith(REQUEST_ID)) return { id: first.slice(REQUEST_ID.length), tags: rest };
  return { id: null, tags: parsed };
}
