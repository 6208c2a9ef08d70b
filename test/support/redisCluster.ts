import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { RedisNode } from '@memegraph/service-kit';
import { eventually } from './accounts';
import { dropKeys, freePorts, keysOf } from './redis';

/** A Redis Cluster of this test's own on 127.0.0.1: masters, and replicas of them when asked. */
export interface LocalRedisCluster {
  nodes: RedisNode[];
  /** The nodes as `REDIS_CLUSTER_NODES` lists them. */
  nodesEnv: string;
  /** How many keys starting with `prefix` each live master holds, in `nodes` order. */
  keysPerMaster(prefix: string): Promise<number[]>;
  /** Deletes every key starting with `prefix`, on every live master. */
  dropPrefix(prefix: string): Promise<void>;
  /** Kills every node, as a crash would: their data is gone, their cluster configuration is kept. */
  stop(): Promise<void>;
  /** Starts the nodes stopped by `stop` again; resolves once the cluster is whole. */
  start(): Promise<void>;
  /**
   * Kills one master that serves slots, as a crash would, and resolves once
   * the nodes left report the cluster whole again (a replica took over).
   * Returns the killed master's port.
   */
  killMaster(): Promise<number>;
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
    child.once('exit', (code) =>
      code === 0 ? resolve(output) : reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${output}`)),
    );
  });
}

/**
 * Starts redis-server processes in cluster mode on free ports: `masters`
 * masters, the slots split between them, each with `replicas` replicas.
 * Joins them into one cluster and resolves once every node reports
 * `cluster_state:ok`. Whatever fails on the way, what was started is
 * stopped again.
 */
export async function startRedisCluster(masters = 3, replicas = 0): Promise<LocalRedisCluster> {
  const size = masters * (1 + replicas);
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
    const nodes = Array.from({ length: size }, (_, i) => ({
      host: '127.0.0.1',
      port: ports[2 * i]!,
      busPort: ports[2 * i + 1]!,
    }));
    // Each node keeps its identity and slots in its nodes-N.conf: started again, the cluster forms again by itself.
    const spawnNodes = () => {
      processes = nodes.map((node, i) => {
        const child = spawn(
          'redis-server',
          [
            '--port',
            String(node.port),
            '--cluster-port',
            String(node.busPort),
            '--bind',
            '127.0.0.1',
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dir, `nodes-${i}.conf`),
            '--cluster-node-timeout',
            '2000',
            '--save',
            '',
            '--appendonly',
            'no',
            '--dir',
            dir,
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
    const clusterOk = (among = clients) =>
      eventually(
        async () =>
          (await Promise.all(among.map((c) => c.cluster('INFO').then(String, () => '')))).every((info) =>
            info.includes('cluster_state:ok'),
          ),
        20_000,
        50,
      );
    /** The nodes that answer and are masters now (a replica refuses writes; a killed node answers nothing). */
    const liveMasters = async () => {
      const roles = await Promise.all(
        clients.map((c) =>
          c.call('ROLE').then(
            (role) => (role as string[])[0],
            () => null,
          ),
        ),
      );
      return clients.filter((_, i) => roles[i] === 'master');
    };
    spawnNodes();
    for (const node of nodes) {
      const client = new Redis({
        host: node.host,
        port: node.port,
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => 50,
      });
      client.on('error', () => undefined);
      clients.push(client);
    }
    await eventually(
      async () =>
        (
          await Promise.all(
            clients.map((c) =>
              c.ping().then(
                () => true,
                () => false,
              ),
            ),
          )
        ).every(Boolean),
      10_000,
      50,
    );
    await run('redis-cli', [
      '--cluster',
      'create',
      ...nodes.map((n) => `${n.host}:${n.port}`),
      '--cluster-replicas',
      String(replicas),
      '--cluster-yes',
    ]);
    await clusterOk();
    if (replicas > 0) {
      // Slots are served before the replicas are: wait until every node sees them all as replicas
      // and each has copied its master (only then can it take over).
      const replicasSeen = async (client: Redis) =>
        String(await client.cluster('NODES').catch(() => ''))
          .split('\n')
          .filter((line) => line.split(' ')[2]?.split(',').includes('slave')).length ===
        masters * replicas;
      const linkUp = async (client: Redis) => {
        const info = String(await client.info('replication').catch(() => ''));
        return info.includes('role:master') || info.includes('master_link_status:up');
      };
      await eventually(
        async () => (await Promise.all(clients.flatMap((c) => [replicasSeen(c), linkUp(c)]))).every(Boolean),
        20_000,
        50,
      );
    }
    return {
      nodes: nodes.map(({ host, port }) => ({ host, port })),
      nodesEnv: nodes.map((n) => `${n.host}:${n.port}`).join(','),
      keysPerMaster: async (prefix) =>
        Promise.all((await liveMasters()).map(async (c) => (await keysOf(c, prefix)).length)),
      async dropPrefix(prefix) {
        await Promise.all((await liveMasters()).map((client) => dropKeys(client, prefix)));
      },
      stop,
      async start() {
        spawnNodes();
        await clusterOk();
      },
      async killMaster() {
        // `CLUSTER NODES`: id address flags master ping pong epoch state slots…; a master with slots has a 9th field.
        const lines = String(await clients[0]!.cluster('NODES'))
          .trim()
          .split('\n');
        const master = lines.map((line) => line.split(' ')).find((f) => f[2]!.includes('master') && f.length > 8);
        const port = Number(master![1]!.split('@')[0]!.split(':')[1]);
        const index = nodes.findIndex((n) => n.port === port);
        const child = processes[index]!;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
        // Done once the nodes left have marked it failed (not just suspected: `fail?`) and, a replica
        // elected in its place, report the cluster whole again.
        const left = clients.filter((_, i) => i !== index);
        const markedFailed = async (client: Redis) =>
          String(await client.cluster('NODES').catch(() => ''))
            .split('\n')
            .some(
              (line) =>
                line.split(' ')[1]?.startsWith(`127.0.0.1:${port}@`) && line.split(' ')[2]!.split(',').includes('fail'),
            );
        await eventually(async () => (await Promise.all(left.map(markedFailed))).every(Boolean), 20_000, 50);
        await clusterOk(left);
        return port;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
