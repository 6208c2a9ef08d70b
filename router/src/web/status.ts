import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, HttpError, Scope, hasScope, sendJson, type Logger, type Viewer } from '@memegraph/service-kit';
import { isLoopbackAddress } from '../clientAddress';
import type { RouterMetrics } from '../metrics';
import { FileResponder, PAGE_HEADERS, REVALIDATE } from './files';

const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));

/** What the ai subgraph's `aiStatus` reports: queue depth and every key's health, keys named by fingerprint only. */
export interface AiStatusReport {
  waiting: number;
  active: number;
  queued: number;
  running: number;
  succeeded: number;
  failed: number;
  meanWaitSeconds: number;
  meanRunSeconds: number;
  keys: {
    provider: string;
    key: string;
    inFlight: number;
    successes: number;
    failures: number;
    breaker: string;
    coolingUntil: string | null;
    latencyMs: number;
  }[];
}

export const AI_STATUS_QUERY = `query RouterStatusPage {
  aiStatus {
    waiting active queued running succeeded failed meanWaitSeconds meanRunSeconds
    keys { provider key inFlight successes failures breaker coolingUntil latencyMs }
  }
}`;

/** Cumulative counters read from the router's registry at one moment. */
interface Snapshot {
  at: number;
  requests: number;
  /** Latency histogram, every label merged: [upper bound in seconds, cumulative count]. */
  buckets: [number, number][];
  cache: Record<string, Record<string, number>>;
  rejections: Record<string, number>;
  /** AI queue depth, when someone was watching and the ai subgraph answered. */
  ai?: { waiting: number; active: number };
}

/** One interval between two snapshots, as the page draws it. */
export interface StatusSample {
  at: number;
  requestsPerSecond: number;
  p50Ms: number | null;
  p99Ms: number | null;
  /** Hits over lookups in the interval, per layer; null when there was no lookup. */
  cacheHitRatio: Record<'local' | 'redis', number | null>;
  rejectionsPerSecond: Record<string, number>;
  aiWaiting: number | null;
  aiActive: number | null;
}

const BREAKER_STATES = ['closed', 'half-open', 'open', 'isolated'];
/** While nobody asks for the status, the router samples only its own counters, never its subgraphs. */
const WATCH_MS = 30_000;

export interface StatusBoardOptions {
  metrics: RouterMetrics;
  /** How often counters are sampled; the page polls at the same pace. */
  sampleMs: number;
  /** Intervals kept, so a page opened now has a history to draw. */
  history: number;
  readiness: () => Promise<Record<string, string>>;
  aiStatus: () => Promise<AiStatusReport>;
  clientAddress: (req: IncomingMessage) => string;
  identify: (req: IncomingMessage) => Viewer | Promise<Viewer>;
  log: Logger;
}

/**
 * The router's status page: a ring of counter samples taken from its own
 * Prometheus registry, turned into rates, latency percentiles and hit
 * ratios per interval, with subgraph readiness, breakers and the AI
 * queue and key pool read when someone is watching.
 */
export function createStatusBoard(options: StatusBoardOptions) {
  const { metrics } = options;
  const snapshots: Snapshot[] = [];
  let watchedUntil = 0;
  let live:
    | {
        at: number;
        checks: Record<string, string>;
        ai: ({ state: 'ok' } & AiStatusReport) | { state: 'unavailable'; error: string };
      }
    | undefined;
  let refreshing: Promise<void> | undefined;

  const refresh = () =>
    (refreshing ??= (async () => {
      const [checks, ai] = await Promise.all([
        options.readiness(),
        options.aiStatus().then(
          (report) => ({ state: 'ok' as const, ...report }),
          (error: unknown) => ({ state: 'unavailable' as const, error: (error as Error).message }),
        ),
      ]);
      live = { at: Date.now(), checks, ai };
    })().finally(() => {
      refreshing = undefined;
    }));

  const take = async (): Promise<Snapshot> => {
    const [requests, cache, rejections] = await Promise.all([
      metrics.requests.get(),
      metrics.cache.get(),
      metrics.rejections.get(),
    ]);
    const bounds = new Map<number, number>();
    let count = 0;
    for (const value of requests.values) {
      if (value.metricName?.endsWith('_count')) count += value.value;
      if (!value.metricName?.endsWith('_bucket')) continue;
      // Bucket samples carry `le` besides the histogram's own labels.
      const { le: bound } = value.labels as { le?: string | number };
      const le = bound === '+Inf' ? Infinity : Number(bound);
      bounds.set(le, (bounds.get(le) ?? 0) + value.value);
    }
    const lookups: Snapshot['cache'] = {};
    for (const { labels, value } of cache.values) {
      const layer = String(labels.layer);
      lookups[layer] = {
        ...lookups[layer],
        [String(labels.result)]: (lookups[layer]?.[String(labels.result)] ?? 0) + value,
      };
    }
    const refused: Record<string, number> = {};
    for (const { labels, value } of rejections.values)
      refused[String(labels.reason)] = (refused[String(labels.reason)] ?? 0) + value;
    return {
      at: Date.now(),
      requests: count,
      buckets: [...bounds].sort((a, b) => a[0] - b[0]),
      cache: lookups,
      rejections: refused,
    };
  };

  const tick = async () => {
    const snapshot = await take();
    snapshots.push(snapshot);
    if (snapshots.length > options.history + 1) snapshots.shift();
    if (Date.now() >= watchedUntil) return;
    await refresh();
    if (live?.ai.state === 'ok') snapshot.ai = { waiting: live.ai.waiting, active: live.ai.active };
  };
  const onTick = () => tick().catch((error: unknown) => options.log.warn({ err: error }, 'status sample failed'));
  const timer = setInterval(onTick, options.sampleMs);
  timer.unref();
  void onTick();

  const report = async () => {
    watchedUntil = Date.now() + WATCH_MS;
    if (!live || Date.now() - live.at > 2 * options.sampleMs) await refresh();
    const breakers = new Map(
      (await metrics.breakers.get()).values.map(({ labels, value }) => [
        String(labels.subgraph),
        BREAKER_STATES[value] ?? 'unknown',
      ]),
    );
    const { redis, ...subgraphChecks } = live!.checks;
    const names = [...new Set([...Object.keys(subgraphChecks), ...breakers.keys()])].sort();
    const samples = snapshots.slice(1).map((next, i) => toSample(snapshots[i]!, next));
    const last = snapshots.at(-1);
    return {
      at: Date.now(),
      sampleMs: options.sampleMs,
      history: options.history,
      samples,
      totals: last ? { requests: last.requests, rejections: last.rejections, cache: last.cache } : null,
      redis: redis ?? 'not configured',
      subgraphs: names.map((name) => ({
        name,
        ready: subgraphChecks[name] ?? 'unknown',
        breaker: breakers.get(name) ?? 'unknown',
      })),
      ai: live!.ai,
    };
  };

  return {
    /**
     * `/status.json`: open to loopback; from any other address only to a
     * viewer with the `admin` scope (an operator's API key or token).
     */
    async sendReport(req: IncomingMessage, res: ServerResponse): Promise<void> {
      if (!isLoopbackAddress(options.clientAddress(req))) {
        const viewer = await options.identify(req);
        if (viewer.kind !== 'user') {
          throw new HttpError(
            401,
            ErrorCode.UNAUTHENTICATED,
            'The status is for operators: from another machine, send an admin API key (x-api-key) or token',
          );
        }
        if (!hasScope(viewer, Scope.ADMIN))
          throw new HttpError(403, ErrorCode.FORBIDDEN, 'The status is for operators (scope admin)');
      }
      sendJson(res, 200, await report(), { 'cache-control': 'no-store' });
    },
    stop: () => clearInterval(timer),
  };
}

function toSample(prev: Snapshot, next: Snapshot): StatusSample {
  const seconds = Math.max(0.001, (next.at - prev.at) / 1000);
  const before = new Map(prev.buckets);
  const buckets = next.buckets.map(([le, count]): [number, number] => [le, Math.max(0, count - (before.get(le) ?? 0))]);
  const delta = (layer: string, result: string) =>
    Math.max(0, (next.cache[layer]?.[result] ?? 0) - (prev.cache[layer]?.[result] ?? 0));
  const lookups = (layer: string) => delta(layer, 'hit') + delta(layer, 'miss') + delta(layer, 'stale');
  // Each lookup is counted once, at the layer that answered it: every Redis lookup was a local miss.
  const ratio = (hits: number, total: number) => (total === 0 ? null : hits / total);
  const rejectionsPerSecond: Record<string, number> = {};
  for (const [reason, count] of Object.entries(next.rejections)) {
    const delta = count - (prev.rejections[reason] ?? 0);
    if (delta > 0) rejectionsPerSecond[reason] = delta / seconds;
  }
  return {
    at: next.at,
    requestsPerSecond: Math.max(0, next.requests - prev.requests) / seconds,
    p50Ms: quantileMs(0.5, buckets),
    p99Ms: quantileMs(0.99, buckets),
    cacheHitRatio: {
      local: ratio(delta('local', 'hit'), lookups('local') + lookups('redis')),
      redis: ratio(delta('redis', 'hit'), lookups('redis')),
    },
    rejectionsPerSecond,
    aiWaiting: next.ai?.waiting ?? null,
    aiActive: next.ai?.active ?? null,
  };
}

/**
 * A latency percentile from histogram buckets, as Prometheus'
 * histogram_quantile computes it: linear within the bucket the rank falls
 * in; the highest finite bound when it falls past them all.
 */
export function quantileMs(q: number, cumulative: [number, number][]): number | null {
  const total = cumulative.at(-1)?.[1] ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [le, count] of cumulative) {
    if (count >= rank) {
      if (!Number.isFinite(le)) return lower * 1000;
      const inBucket = count - below;
      return (lower + (le - lower) * (inBucket === 0 ? 0 : (rank - below) / inBucket)) * 1000;
    }
    lower = le;
    below = count;
  }
  return lower * 1000;
}

/** `/status` and its script and styles: a shell with no data in it; the data comes from `/status.json`. */
export function createStatusPage() {
  const files = new FileResponder();
  const own = new Map([
    ['/status/status.js', path.join(PUBLIC_DIR, 'status.js')],
    ['/status/status.css', path.join(PUBLIC_DIR, 'status.css')],
  ]);
  return {
    sendPage: (req: IncomingMessage, res: ServerResponse) =>
      files.sendFile(req, res, path.join(PUBLIC_DIR, 'status.html'), { 'cache-control': REVALIDATE, ...PAGE_HEADERS }),
    async sendAsset(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> {
      const file = own.get(pathname);
      return file ? files.sendFile(req, res, file, { 'cache-control': REVALIDATE }) : false;
    },
  };
}
