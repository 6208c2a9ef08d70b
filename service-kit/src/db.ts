import { readdir, readFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import type { Metrics } from './metrics';
import { Replicas, WritesOnReplica, isReadOnly, parseLsn, type ReplicaOptions } from './replicas';

export type Row = Record<string, unknown>;

/** The part of a database connection that runs statements. */
export interface Queryable {
  /** Runs one parameterized statement and returns its rows. */
  query<R = Row>(text: string, params?: readonly unknown[]): Promise<R[]>;
  /** Runs a script of several statements without parameters. */
  exec(sql: string): Promise<void>;
}

export interface Db extends Queryable {
  /** The PostgreSQL schema that holds this service's tables. */
  readonly schema: string;
  readonly kind: 'postgres' | 'pglite';
  /** Statements sent since the database was opened (tests count them). */
  readonly stats: { statements: number };
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * The primary itself, for reads that must be current whoever asks
   * (credentials, log-in throttling). `query` and `exec` send reads to a
   * replica when there are some.
   */
  readonly primary: Queryable;
  /** The read replicas (DATABASE_REPLICA_URLS); none on PGlite or without them. */
  readonly replicas?: Replicas;
  /** Registers the database's metrics (replica lag and statement routing) in a service's registry. */
  instrument(metrics: Metrics): void;
  close(): Promise<void>;
}

export interface DbOptions {
  /** Each service owns its tables in a schema of its own name. */
  schema: string;
  /** `postgres://…` for PostgreSQL; without it the same SQL runs on embedded PGlite. */
  databaseUrl?: string;
  /** PGlite data directory; in memory when not given. */
  dataDir?: string;
  poolSize?: number;
  /** Read replicas of `databaseUrl`'s server (PostgreSQL only). */
  replicas?: ReplicaOptions;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]*$/;

export async function openDb(options: DbOptions): Promise<Db> {
  if (!SCHEMA_NAME.test(options.schema)) throw new Error(`invalid schema name ${options.schema}`);
  if (!options.databaseUrl) {
    if (options.replicas?.urls.length) throw new Error('read replicas need a PostgreSQL primary (DATABASE_URL)');
    return openPglite(options);
  }
  const db = openPostgres(options, options.databaseUrl);
  await db.replicas?.start();
  return db;
}

/** Distinct statement texts a replica refused as writes that are remembered, to go to the primary at once. */
const MAX_REMEMBERED_WRITES = 500;

function openPostgres(options: DbOptions, connectionString: string): Db {
  const pool = new pg.Pool({
    connectionString,
    max: options.poolSize ?? 10,
    // Every connection sees this service's own tables first and nothing of the others'.
    options: `-c search_path=${options.schema}`,
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  const stats = { statements: 0 };
  const statementName = preparedStatementNames();
  const client = (c: pg.Pool | pg.PoolClient): Queryable => ({
    async query<R>(text: string, params?: readonly unknown[]) {
      stats.statements++;
      // Without parameters pg sends a simple query, which may hold several statements: never named.
      const name = params === undefined ? undefined : statementName(text);
      const values = params as unknown[] | undefined;
      const result = await (name === undefined ? c.query(text, values) : c.query({ name, text, values }));
      return result.rows as R[];
    },
    async exec(sql: string) {
      stats.statements++;
      await c.query(sql);
    },
  });
  const primary = client(pool);
  const replicas = options.replicas?.urls.length
    ? new Replicas({ ...options.replicas, schema: options.schema, poolSize: options.poolSize ?? 10 }, async () => {
        const { rows } = await pool.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
        return parseLsn(rows[0]!.lsn);
      })
    : undefined;
  const transaction = async <T>(fn: (tx: Queryable) => Promise<T>): Promise<T> => {
    const conn = await pool.connect();
    try {
      await conn.query('BEGIN');
      const result = await fn(client(conn));
      await conn.query('COMMIT');
      return result;
    } catch (error) {
      await conn.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      conn.release();
    }
  };
  const common = { schema: options.schema, kind: 'postgres' as const, stats, primary, close: () => pool.end() };
  if (!replicas) return { ...common, ...primary, transaction, instrument: () => undefined };

  const writes = new Set<string>();
  const onPrimary: Queryable = {
    async query<R>(text: string, params?: readonly unknown[]) {
      const rows = await primary.query<R>(text, params);
      if (!isReadOnly(text) || writes.has(text)) await replicas.wrote();
      return rows;
    },
    async exec(sql: string) {
      await primary.exec(sql);
      await replicas.wrote();
    },
  };
  return {
    ...common,
    primary: onPrimary,
    replicas,
    async query<R>(text: string, params?: readonly unknown[]) {
      if (isReadOnly(text) && !writes.has(text)) {
        try {
          return await replicas.read(
            (replica) => client(replica).query<R>(text, params),
            () => primary.query<R>(text, params),
          );
        } catch (error) {
          if (!(error instanceof WritesOnReplica)) throw error;
          if (writes.size < MAX_REMEMBERED_WRITES) writes.add(text);
        }
      }
      return onPrimary.query<R>(text, params);
    },
    exec: onPrimary.exec,
    async transaction(fn) {
      const result = await transaction(fn);
      await replicas.wrote();
      return result;
    },
    instrument: (metrics) => replicas.instrument(metrics),
    async close() {
      await replicas.close();
      await pool.end();
    },
  };
}

/** Distinct statement texts a pool prepares; past this, further texts run unnamed (parsed every time). */
const MAX_PREPARED_STATEMENTS = 500;

/**
 * Names for prepared statements, one per distinct SQL text. A named
 * statement is parsed and planned once per connection and then only bound
 * and executed: the statements of a request repeat a few dozen texts, so
 * PostgreSQL stops parsing them and each goes as a shorter message. Texts
 * are bounded so SQL built from data could never grow the set without end.
 */
function preparedStatementNames(): (text: string) => string | undefined {
  const names = new Map<string, string>();
  return (text) => {
    let name = names.get(text);
    if (name === undefined && names.size < MAX_PREPARED_STATEMENTS) {
      name = `memegraph_${names.size}`;
      names.set(text, name);
    }
    return name;
  };
}

async function openPglite(options: DbOptions): Promise<Db> {
  if (options.dataDir) await mkdir(options.dataDir, { recursive: true });
  // int8 stays a string, as node-postgres returns it, so both back ends give the same rows.
  const lite = await PGlite.create({ dataDir: options.dataDir, parsers: { 20: (value: string) => value } });
  await lite.exec(`CREATE SCHEMA IF NOT EXISTS ${options.schema}; SET search_path TO ${options.schema};`);
  const stats = { statements: 0 };
  type LiteLike = Pick<PGlite, 'query' | 'exec'>;
  const client = (c: LiteLike): Queryable => ({
    async query<R>(text: string, params?: readonly unknown[]) {
      stats.statements++;
      const result = await c.query<R>(text, params as unknown[] | undefined);
      return result.rows;
    },
    async exec(sql: string) {
      stats.statements++;
      await c.exec(sql);
    },
  });
  return {
    schema: options.schema,
    kind: 'pglite',
    stats,
    ...client(lite),
    primary: client(lite),
    transaction: (fn) => lite.transaction((tx) => fn(client(tx))),
    instrument: () => undefined,
    close: () => lite.close(),
  };
}

/**
 * Applies the plain SQL files of `dir` in name order, once each. An advisory
 * lock makes replicas that start together take turns instead of racing.
 */
export async function migrate(db: Db, dir: string): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`memegraph:migrate:${db.schema}`]);
    await tx.exec(`CREATE SCHEMA IF NOT EXISTS ${db.schema}`);
    await tx.exec(
      `CREATE TABLE IF NOT EXISTS ${db.schema}.schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = new Set(
      (await tx.query<{ name: string }>(`SELECT name FROM ${db.schema}.schema_migrations`)).map((r) => r.name),
    );
    const applied: string[] = [];
    for (const file of files) {
      if (done.has(file)) continue;
      await tx.exec(await readFile(path.join(dir, file), 'utf8'));
      await tx.query(`INSERT INTO ${db.schema}.schema_migrations (name) VALUES ($1)`, [file]);
      applied.push(file);
    }
    return applied;
  });
}
