import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePorts } from '../../test/support/redis';

export interface PrivateRedis {
  url: string;
  stop(): void;
}

/**
 * A Redis server of the run's own, on a free port, keeping nothing on disk:
 * the Redis CPU a run reports (`INFO cpu`) is then the platform's alone, not
 * that of whatever else uses the machine's shared server. Null when the
 * machine has no `redis-server` binary.
 */
export async function startPrivateRedis(): Promise<PrivateRedis | null> {
  const [port] = await freePorts(1);
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const started = await new Promise<boolean>((resolve) => {
    child.once('error', () => resolve(false));
    child.once('spawn', () => resolve(true));
  });
  if (!started) return null;
  const stop = () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  process.on('exit', stop);
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: null });
  // Refused connections are expected until the server listens; the retries wait for it.
  client.on('error', () => undefined);
  try {
    await client.connect().catch(() => undefined);
    await client.ping();
  } catch (error) {
    stop();
    throw error;
  } finally {
    client.disconnect();
  }
  return { url, stop };
}
