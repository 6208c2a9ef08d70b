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

/** Today, in UTC, as quota keys name it. */
export const utcDay = (now = Date.now()) => new Date(now).toISOString().slice(0, 10);
