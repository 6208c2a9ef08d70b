import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { appendFile, chmod, chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePorts } from './redis';

/** A PostgreSQL primary and one streaming replica of it, of this test's own, on 127.0.0.1. */
export interface LocalReplicatedPostgres {
  primaryUrl: string;
  replicaUrl: string;
  /** Runs one statement on the replica (e.g. `SELECT pg_wal_replay_pause()`). */
  onReplica(sql: string): Promise<void>;
  /** Stops the replica (fast shutdown: its connections are ended). */
  stopReplica(): Promise<void>;
  /** Starts the replica again; resolves once it is streaming from the primary. */
  startReplica(): Promise<void>;
  /** Freezes (SIGSTOP) or thaws (SIGCONT) every process of the replica: a server that hangs, as on a lost network. */
  freezeReplica(frozen: boolean): Promise<void>;
  close(): Promise<void>;
}

/** The PostgreSQL server binaries on this machine (the newest major version). */
function binaries(): string {
  const versions = readdirSync('/usr/lib/postgresql')
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  if (!versions[0]) throw new Error('no PostgreSQL binaries under /usr/lib/postgresql');
  return `/usr/lib/postgresql/${versions[0]}/bin`;
}

/** PostgreSQL refuses to run as root: as root, the servers run as the `postgres` user. */
const AS_ROOT = process.getuid?.() === 0;

function run(command: string, args: string[]): Promise<string> {
  const [file, argv] = AS_ROOT ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  return new Promise((resolve, reject) => {
    // pg_ctl's server keeps no pipe of ours open: its output goes to its log file.
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(output) : reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${output}`)),
    );
  });
}

/**
 * Makes a primary (initdb, wal_level=replica, replication allowed from
 * 127.0.0.1) and a replica of it (pg_basebackup -R, started as a hot
 * standby), each on a free port, in a temporary directory. Resolves once
 * the replica streams from the primary.
 */
export async function startReplicatedPostgres(): Promise<LocalReplicatedPostgres> {
  const bin = binaries();
  const dir = await mkdtemp(join(tmpdir(), 'memegraph-pg-replica-'));
  const primaryDir = join(dir, 'primary');
  const replicaDir = join(dir, 'replica');
  if (AS_ROOT) {
    const { uid, gid } = await userIds('postgres');
    await chown(dir, uid, gid);
  }
  await chmod(dir, 0o700);
  const [primaryPort, replicaPort] = (await freePorts(2)) as [number, number];
  const ctl = (data: string, action: string, ...extra: string[]) =>
    run(`${bin}/pg_ctl`, [
      '-D',
      data,
      '-l',
      join(dir, `${data === primaryDir ? 'primary' : 'replica'}.log`),
      '-w',
      action,
      ...extra,
    ]);
  const url = (port: number) => `postgres://postgres@127.0.0.1:${port}/postgres`;
  let started: string[] = [];
  const close = async () => {
    for (const data of started.reverse()) await ctl(data, 'stop', '-m', 'immediate').catch(() => undefined);
    started = [];
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await run(`${bin}/initdb`, ['-D', primaryDir, '-U', 'postgres', '-A', 'trust', '--no-sync']);
    const common = [
      `listen_addresses = '127.0.0.1'`,
      `unix_socket_directories = '${dir}'`,
      'fsync = off',
      'full_page_writes = off',
      'shared_buffers = 16MB',
      'max_connections = 200',
    ];
    await appendFile(
      join(primaryDir, 'postgresql.conf'),
      [
        ...common,
        `port = ${primaryPort}`,
        'wal_level = replica',
        'max_wal_senders = 4',
        // Named, so each server's backends can be told apart in `ps` (the bench counts the primary's CPU).
        `cluster_name = 'memegraph-primary'`,
        '',
      ].join('\n'),
    );
    await appendFile(join(primaryDir, 'pg_hba.conf'), 'host replication all 127.0.0.1/32 trust\n');
    await ctl(primaryDir, 'start');
    started.push(primaryDir);
    await run(`${bin}/pg_basebackup`, [
      ...['-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'postgres'],
      ...['-D', replicaDir, '-R', '-X', 'stream', '--no-sync'],
    ]);
    await appendFile(
      join(replicaDir, 'postgresql.conf'),
      `port = ${replicaPort}\nhot_standby = on\ncluster_name = 'memegraph-replica'\n`,
    );
    const startReplica = async () => {
      await ctl(replicaDir, 'start');
      if (!started.includes(replicaDir)) started.push(replicaDir);
      // Streaming: the primary reports the replica's WAL receiver.
      await eventually(async () => {
        const rows = await query(url(primaryPort), 'SELECT count(*)::int AS n FROM pg_stat_replication');
        return rows[0]?.n === 1;
      }, 20_000);
    };
    await startReplica();
    return {
      primaryUrl: url(primaryPort),
      replicaUrl: url(replicaPort),
      async onReplica(sql) {
        await query(url(replicaPort), sql);
      },
      async stopReplica() {
        await ctl(replicaDir, 'stop', '-m', 'fast');
        started = started.filter((d) => d !== replicaDir);
      },
      startReplica,
      async freezeReplica(frozen) {
        // The postmaster and every process it started (backends, startup, WAL receiver).
        const postmaster = Number((await readFile(join(replicaDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
        const children = (await run('ps', ['-o', 'pid=', '--ppid', String(postmaster)])).split(/\s+/).filter(Boolean);
        for (const pid of [postmaster, ...children.map(Number)]) process.kill(pid, frozen ? 'SIGSTOP' : 'SIGCONT');
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Polls `check` until it passes (the bench uses this file too, outside vitest: no test helpers here). */
async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function query(connectionString: string, sql: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return (await client.query(sql)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}

async function userIds(name: string): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run('id', ['-u', name]), run('id', ['-g', name])]);
  return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
}
