import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { z } from 'zod';
import { env } from './config';
import type { Metrics } from './metrics';
import { createRedis, redisScript, redisTargetOf, type RedisClient, type RedisNode } from './redis';

/**
 * Read replicas of a PostgreSQL primary, and which one may answer a read.
 *
 * A replica answers a read-only statement when it is up, its data is at
 * most `maxLagMs` behind the primary's, and, for a viewer who wrote lately,
 * it has replayed that viewer's last write. After a write made for a viewer,
 * the primary's WAL position is kept in Redis under the viewer (for a while,
 * see `readYourWritesTtlMs`), so every subgraph process and every router
 * path sees it; that viewer's reads go to the primary until a replica has
 * replayed past it. Anything else (no replica fit, Redis away) reads from
 * the primary.
 *
 * One poll (every `pollIntervalMs`) reads the primary's WAL position and
 * each replica's replay position: a replica's lag is how long ago the
 * primary first had WAL the replica has not replayed (0 when it has it
 * all, so an idle primary never makes a replica look late). A replica that
 * fails a statement for its connection is down until a poll reaches it
 * again: the poll is the probe that lets it back in.
 */

/** The settings a subgraph reads with `readConfig` for its replicas. */
export const replicaEnv = {
  /** Comma-separated `postgres://` URLs of streaming replicas of DATABASE_URL's server; reads go to them. */
  DATABASE_REPLICA_URLS: z
    .string()
    .transform((text, ctx) => {
      const urls = text
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      for (const url of urls) {
        if (!/^postgres(ql)?:\/\/./.test(url)) {
          ctx.addIssue({ code: 'custom', message: 'must be postgres:// URLs, comma-separated' });
          return z.NEVER;
        }
      }
      return urls;
    })
    .optional(),
  /** How far behind the primary a replica may be and still answer reads. */
  REPLICA_MAX_LAG_MS: env.int(1_000, 1),
};

export interface ReplicaOptions {
  urls: readonly string[];
  /** Where each viewer's last write position is kept, for every process to see. */
  redis: RedisClient;
  /** Key namespace (REDIS_PREFIX). */
  prefix: string;
  maxLagMs: number;
  /** How often replay positions are read. Default: a quarter of `maxLagMs`, 50 ms to 1 s. */
  pollIntervalMs?: number;
  now?: () => number;
  /** Close `redis` with the database. */
  ownsRedis?: boolean;
}

/**
 * The replica settings read with `replicaEnv` (and `redisEnv`), or none
 * without DATABASE_REPLICA_URLS. Replicas need DATABASE_URL (their primary)
 * and Redis (each viewer's last write, for every process).
 */
export function replicasOf(
  config: {
    DATABASE_URL?: string;
    DATABASE_REPLICA_URLS?: string[];
    REPLICA_MAX_LAG_MS: number;
    REDIS_URL?: string;
    REDIS_CLUSTER_NODES?: RedisNode[];
    REDIS_PREFIX: string;
  },
  service: string,
): ReplicaOptions | undefined {
  if (!config.DATABASE_REPLICA_URLS?.length) return undefined;
  const problem = !config.DATABASE_URL
    ? 'needs DATABASE_URL, the primary the replicas copy'
    : !redisTargetOf(config)
      ? 'needs REDIS_URL or REDIS_CLUSTER_NODES: every process must see which viewers wrote lately'
      : undefined;
  if (problem) throw new Error(`Invalid configuration:\n  DATABASE_REPLICA_URLS: ${problem}`);
  return {
    urls: config.DATABASE_REPLICA_URLS,
    redis: createRedis(redisTargetOf(config)!, `memegraph-${service}-replicas`),
    ownsRedis: true,
    prefix: config.REDIS_PREFIX,
    maxLagMs: config.REPLICA_MAX_LAG_MS,
  };
}

/** How long a viewer's write position is kept: past it, any replica fit to read (lag ≤ maxLagMs) has replayed it. */
export const readYourWritesTtlMs = (maxLagMs: number) => Math.max(10_000, 4 * maxLagMs);

/** The viewer the statements of a request are made for, and what this request knows of their writes. */
interface ViewerScope {
  key: string;
  /** The least WAL position this viewer's reads must see; a promise while it is read from Redis. */
  needed?: bigint | Promise<bigint | undefined>;
}

const scope = new AsyncLocalStorage<ViewerScope>();

/**
 * Runs `fn` as a request of `viewerKey` (a user id): its reads see that
 * viewer's earlier writes, on every process. Without a key, reads see data
 * at most REPLICA_MAX_LAG_MS old.
 */
export function withDbViewer<T>(viewerKey: string | null | undefined, fn: () => T): T {
  return viewerKey ? scope.run({ key: viewerKey }, fn) : scope.exit(fn);
}

/** `X/Y` (hex) as one number. */
export function parseLsn(text: string): bigint {
  const [high, low] = text.split('/');
  return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`);
}

/** Keeps the greater of the stored position and the new one, for the TTL. */
const RECORD_WRITE = redisScript(`
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) >= tonumber(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1`);

/** Statements a replica may answer: a SELECT (or WITH … SELECT) that locks and changes nothing. */
const READ_START = /^\s*(?:select|with|values|table)\b/i;
const MAY_WRITE =
  /\b(?:insert|update|delete|merge|nextval|setval|pg_advisory\w*|pg_try_advisory\w*|pg_notify|for\s+(?:no\s+key\s+)?update|for\s+(?:key\s+)?share)\b/i;
export const isReadOnly = (text: string) => READ_START.test(text) && !MAY_WRITE.test(text);

/** A replica refused a statement because it writes (the text read as a read). */
const isReadOnlyRefusal = (error: unknown) => (error as { code?: string }).code === '25006';
/**
 * The replica itself failed rather than the statement: no SQLSTATE (a
 * socket error, a refused connection), class 08 (connection), 57P
 * (shut down, crashed, starting), 53 (out of resources).
 */
const isReplicaFailure = (error: unknown) => {
  const code = (error as { code?: unknown }).code;
  return typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code) || /^(08|57P|53)/.test(code);
};

/** Longest a statement may take on a replica before it is given up and run on the primary. */
const REPLICA_QUERY_TIMEOUT_MS = 5_000;

export type ReadRoute = 'replica' | 'read-your-writes' | 'no-replica' | 'replica-failed';

export interface ReplicaStatus {
  name: string;
  up: boolean;
  /** WAL replayed, as of the last poll. */
  replayLsn: bigint;
  lagMs: number;
}

interface Replica extends ReplicaStatus {
  pool: pg.Pool;
}

/** The replicas of one Db, and the choice of one for each read. */
export class Replicas {
  private readonly replicas: Replica[];
  private readonly samples: { at: number; lsn: bigint }[] = [];
  private readonly now: () => number;
  private readonly ttlMs: number;
  private next = 0;
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private metrics?: {
    lag: { set(labels: { replica: string }, value: number): void };
    up: { set(labels: { replica: string }, value: number): void };
    routed: { inc(labels: { target: string; reason: string }): void };
  };

  constructor(
    private readonly options: ReplicaOptions & { schema: string; poolSize: number },
    private readonly primaryLsn: () => Promise<bigint>,
  ) {
    this.now = options.now ?? Date.now;
    this.ttlMs = readYourWritesTtlMs(options.maxLagMs);
    this.replicas = options.urls.map((url) => {
      const pool = new pg.Pool({
        connectionString: url,
        max: options.poolSize,
        options: `-c search_path=${options.schema}`,
        // A replica that does not answer is skipped, not waited for: neither to connect nor mid-statement
        // (a hung poll would otherwise hold every later one).
        connectionTimeoutMillis: 2_000,
        query_timeout: REPLICA_QUERY_TIMEOUT_MS,
      });
      pool.on('error', () => undefined);
      const { host, port } = new URL(url);
      return { name: `${host}${port ? '' : ':5432'}`, pool, up: false, replayLsn: 0n, lagMs: Infinity };
    });
  }

  /** Polls once, then every `pollIntervalMs`. */
  async start(): Promise<void> {
    await this.poll();
    const interval = this.options.pollIntervalMs ?? Math.min(1_000, Math.max(50, this.options.maxLagMs / 4));
    this.timer = setInterval(() => void this.poll(), interval);
    this.timer.unref();
  }

  /** The replicas as of the last poll (for tests and `/metrics`). */
  status(): ReplicaStatus[] {
    return this.replicas.map(({ pool: _pool, ...status }) => status);
  }

  instrument(metrics: Metrics): void {
    this.metrics = {
      lag: metrics.gauge(
        'db_replica_lag_seconds',
        'How far behind the primary each read replica was at its last poll',
        ['replica'],
      ),
      up: metrics.gauge('db_replica_up', 'Whether each read replica answers reads (1) or is skipped (0)', ['replica']),
      routed: metrics.counter(
        'db_statements_routed_total',
        'Statements by where they went (primary, replica) and why (write; replica; read-your-writes, no-replica, replica-failed: a read on the primary)',
        ['target', 'reason'],
      ),
    };
    this.report();
  }

  /** Reads the primary's WAL position and each replica's replay position; concurrent calls share one poll. */
  poll(): Promise<void> {
    this.polling ??= this.pollOnce().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async pollOnce(): Promise<void> {
    let primary: bigint | undefined;
    try {
      primary = await this.primaryLsn();
    } catch {
      // Without the primary's position no lag is known: keep the last one.
    }
    const at = this.now();
    if (primary !== undefined) {
      const last = this.samples.at(-1);
      if (!last || primary > last.lsn) this.samples.push({ at, lsn: primary });
      // A sample older than the longest lag that matters only says "too late"; the latest one stays.
      const horizon = at - 4 * this.options.maxLagMs;
      while (this.samples.length > 1 && this.samples[1]!.at < horizon) this.samples.shift();
    }
    await Promise.all(
      this.replicas.map(async (replica) => {
        try {
          const { rows } = await replica.pool.query<{ lsn: string | null; standby: boolean }>(
            'SELECT pg_last_wal_replay_lsn()::text AS lsn, pg_is_in_recovery() AS standby',
          );
          const row = rows[0];
          // A server out of recovery (promoted) is no longer a copy of this primary.
          if (!row?.standby || !row.lsn) throw new Error('not a streaming replica');
          replica.replayLsn = parseLsn(row.lsn);
          replica.lagMs = this.lagOf(replica.replayLsn, this.now());
          replica.up = true;
        } catch {
          replica.up = false;
        }
      }),
    );
    this.report();
  }

  /** How long ago the primary first had WAL past `replayed`; 0 when the replica has all it had. */
  private lagOf(replayed: bigint, now: number): number {
    const behind = this.samples.find((s) => s.lsn > replayed);
    if (!behind) return 0;
    return Math.max(0, now - behind.at);
  }

  private report(): void {
    if (!this.metrics) return;
    for (const r of this.replicas) {
      this.metrics.lag.set({ replica: r.name }, Number.isFinite(r.lagMs) ? r.lagMs / 1000 : -1);
      this.metrics.up.set({ replica: r.name }, this.fit(r) ? 1 : 0);
    }
  }

  private fit(replica: Replica): boolean {
    return replica.up && replica.lagMs <= this.options.maxLagMs;
  }

  private count(route: 'primary-write' | ReadRoute): void {
    this.metrics?.routed.inc(
      route === 'primary-write'
        ? { target: 'primary', reason: 'write' }
        : { target: route === 'replica' ? 'replica' : 'primary', reason: route },
    );
  }

  private key(viewer: string): string {
    return `${this.options.prefix}db-written:${this.options.schema}:{${viewer}}`;
  }

  /** The least WAL position the current viewer's reads must see (read from Redis once per request). */
  private async needed(): Promise<bigint | undefined> {
    const current = scope.getStore();
    if (!current) return undefined;
    current.needed ??= this.options.redis.get(this.key(current.key)).then((v) => (v ? BigInt(v) : undefined));
    return current.needed;
  }

  /**
   * Runs a read-only statement on a replica fit for the current viewer, or
   * on the primary (`onPrimary`) when none is. A replica that fails is
   * marked down and the statement runs on the primary: a reader never sees
   * a replica's failure.
   */
  async read<R>(run: (pool: pg.Pool) => Promise<R>, onPrimary: () => Promise<R>): Promise<R> {
    let candidates = this.replicas.filter((r) => this.fit(r));
    if (candidates.length === 0) {
      this.count('no-replica');
      return onPrimary();
    }
    let needed: bigint | undefined;
    try {
      needed = await this.needed();
    } catch {
      // Redis away: the viewer's writes are unknown, so only the primary is sure to have them.
      this.count('read-your-writes');
      return onPrimary();
    }
    if (needed !== undefined) candidates = candidates.filter((r) => r.replayLsn >= needed!);
    if (candidates.length === 0) {
      this.count('read-your-writes');
      return onPrimary();
    }
    const replica = candidates[this.next++ % candidates.length]!;
    try {
      const result = await run(replica.pool);
      this.count('replica');
      return result;
    } catch (error) {
      if (isReadOnlyRefusal(error)) throw new WritesOnReplica();
      if (isReplicaFailure(error)) {
        replica.up = false;
        this.report();
      }
      // Also a statement cancelled for a conflict with recovery: the primary has no such conflict.
      this.count('replica-failed');
      return onPrimary();
    }
  }

  /** After a write on the primary: the current viewer's reads must see it, on every process. */
  async wrote(): Promise<void> {
    this.count('primary-write');
    const current = scope.getStore();
    if (!current) return;
    const lsn = await this.primaryLsn();
    const known = await Promise.resolve(current.needed).catch(() => undefined);
    current.needed = known !== undefined && known > lsn ? known : lsn;
    // The write is made: a Redis that is away fails this viewer's reads over to the primary anyway.
    await RECORD_WRITE(this.options.redis, [this.key(current.key)], [lsn.toString(), this.ttlMs]).catch(
      () => undefined,
    );
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.polling;
    await Promise.all(this.replicas.map((r) => r.pool.end()));
    if (this.options.ownsRedis) await this.options.redis.quit().catch(() => undefined);
  }
}

/** A statement sent to a replica as a read turned out to write: it goes to the primary, as a write. */
export class WritesOnReplica extends Error {
  constructor() {
    super('statement writes');
  }
}
