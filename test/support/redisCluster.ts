import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { RedisNode } from '@memegraph/service-kit';
import { eventually } from './accounts';
import { dropKeys, freePorts, keysOf } from './redis';

/** A Redis Cluster of this test's own, every node a master on 127.0.0.1. */
export interface LocalRedisCluster {
  nodes: RedisNode[];
  /** The nodes as `REDIS_CLUSTER_NODES` lists them. */
  nodesEnv: string;
  /** How many keys starting with `prefix` each master holds, in `nodes` order. */
  keysPerMaster(prefix: string): Promise<number[]>;
  /** Deletes every key starting with `prefix`, on every master. */
  dropPrefix(prefix: string): Promise<void>;
  /** Kills every node, as a crash would: their data is gone, their cluster configuration is kept. */
  stop(): Promise<void>;
  /** Starts the nodes stopped by `stop` again; resolves once the cluster is whole. */
  start(): Promise<void>;
  /** Stops every node and removes their files. */
  close(): Promise<void>;
}

/** Runs a command to its end; rejects with its output when it fails. */
function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${output}`))));
  });
}

/**
 * Starts `size` redis-server processes in cluster mode on free ports, joins
 * them into one cluster (no replicas: every node a master, the slots split
 * between them) and resolves once every node reports `cluster_state:ok`.
 * Whatever fails on the way, what was started is stopped again.
 */
export async function startRedisCluster(size = 3): Promise<LocalRedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'memegraph-redis-cluster-'));
  let processes: ChildProcess[] = [];
  const clients: Redis[] = [];
  const stop = async () => {
    await Promise.all(
      processes.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }),
    );
    processes = [];
  };
  const close = async () => {
    for (const client of clients) client.disconnect();
    await stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const ports = await freePorts(2 * size);
    const nodes = Array.from({ length: size }, (_, i) => ({ host: '127.0.0.1', port: ports[2 * i]!, busPort: ports[2 * i + 1]! }));
    // Each node keeps its identity and slots in its nodes-N.conf: started again, the cluster forms again by itself.
    const spawnNodes = () => {
      processes = nodes.map((node, i) => {
        const child = spawn(
          'redis-server',
          [
            '--port', String(node.port),
            '--cluster-port', String(node.busPort),
            '--bind', '127.0.0.1',
            '--cluster-enabled', 'yes',
            '--cluster-config-file', join(dir, `nodes-${i}.conf`),
            '--cluster-node-timeout', '2000',
            '--save', '',
            '--appendonly', 'no',
            '--dir', dir,
          ],
          { stdio: 'ignore' },
        );
        // A node that cannot start (a port taken since) exits; say so rather than time out.
        child.once('exit', (code) => {
          if (code !== null && code !== 0) console.error(`redis-server on port ${node.port} exited with ${code}`);
        });
        return child;
      });
    };
    // Slots are assigned at once, but each node reports ok only when it has heard that every slot is served.
    const clusterOk = () =>
      eventually(
        async () => (await Promise.all(clients.map((c) => c.cluster('INFO').then(String, () => '')))).every((info) => info.includes('cluster_state:ok')),
        20_000,
        50,
      );
    spawnNodes();
    for (const node of nodes) {
      const client = new Redis({ host: node.host, port: node.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
      client.on('error', () => undefined);
      clients.push(client);
    }
    await eventually(async () => (await Promise.all(clients.map((c) => c.ping().then(() => true, () => false)))).every(Boolean), 10_000, 50);
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `${n.host}:${n.port}`), '--cluster-replicas', '0', '--cluster-yes']);
    await clusterOk();
    return {
      nodes: nodes.map(({ host, port }) => ({ host, port })),
      nodesEnv: nodes.map((n) => `${n.host}:${n.port}`).join(','),
      keysPerMaster: async (prefix) => Promise.all(clients.map(async (c) => (await keysOf(c, prefix)).length)),
      async dropPrefix(prefix) {
        await Promise.all(clients.map((client) => dropKeys(client, prefix)));
      },
      stop,
      async start() {
        spawnNodes();
        await clusterOk();
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
