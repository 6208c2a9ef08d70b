import type { Viewer } from '@memegraph/service-kit';

/** The key limits, buckets and quotas are kept under: the user, the service, or the client address for anonymous viewers. */
export function viewerKey(viewer: Viewer): string {
  if (viewer.kind === 'user') return `u:${viewer.userId}`;
  if (viewer.kind === 'service') return `s:${viewer.service}`;
  return `ip:${viewer.clientIp ?? 'unknown'}`;
}

/**
 * The Redis keys (under the state prefix) of a viewer's request limits: the
 * request window, the day's quota and the cost bucket. Each carries the
 * viewer key as its hash tag, so all three of a viewer share one slot of a
 * Redis Cluster and can be checked by one script (see requestLimits.ts).
 */
export const windowKey = (viewerKey: string) => `rl:{${viewerKey}}`;
export const quotaKey = (day: string, viewerKey: string) => `quota:${day}:{${viewerKey}}`;
export const bucketKey = (viewerKey: string) => `cost:{${viewerKey}}`;

const DAY_MS = 86_400_000;
/** The last day asked for, kept until its end: every request names today, and formatting a date is not free. */
let today = { start: 0, end: 0, name: '' };

/** Today, in UTC, as quota keys name it. */
export function utcDay(now = Date.now()): string {
  if (now < today.start || now >= today.end) {
    const start = now - (now % DAY_MS);
    today = { start, end: start + DAY_MS, name: new Date(start).toISOString().slice(0, 10) };
  }
  return today.name;
}
