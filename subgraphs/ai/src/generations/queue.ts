import { randomBytes } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { ErrorCode, PURGE_REQUEST_CHANNEL, codedError, createRedis, purgeRequestMessage, type Logger, type RedisClient, type RedisTarget } from '@memegraph/service-kit';
import type { PooledProvider } from '../providers/config';
import { keyStatusBoard } from '../providers/status';
import { runGeneration, type GenerationJob, type RunDependencies } from './runner';

export const QUEUE_NAME = 'generations';

export interface QueueSettings {
  /** Jobs run at once per worker. */
  concurrency: number;
  /** Jobs allowed to wait; past it, QUEUE_OVERLOADED. */
  maxWaiting: number;
  /** A job running longer is aborted and fails. */
  jobTimeoutMs: number;
}

/** Accepted generations wait here for a worker; lower priority numbers run first. */
export interface GenerationQueue {
  submit(job: GenerationJob, priority: number): Promise<void>;
  depth(): Promise<{ waiting: number; active: number }>;
  close(): Promise<void>;
}

/**
 * BullMQ's keys for `prefix`. A queue's scripts touch many of its keys at once, so on a
 * Redis Cluster they must share a slot: the hash tag puts the whole queue in one. On one
 * Redis the queue keeps the prefix of earlier versions, so jobs waiting across an upgrade
 * are still run by the new workers.
 */
export const bullPrefix = (prefix: string, redis: RedisClient) => (redis.isCluster ? `${prefix}{bull}` : `${prefix}bull`);

const overloaded = (max: number) => codedError(ErrorCode.QUEUE_OVERLOADED, `The generation queue is full (${max} waiting); try again shortly`);

/** The producer side of the BullMQ queue; workers run in their own processes (worker-main.ts). */
export class BullMqQueue implements GenerationQueue {
  private readonly queue: Queue<GenerationJob>;

  constructor(
    redis: RedisClient,
    prefix: string,
    private readonly settings: QueueSettings,
  ) {
    // Shares the service's connection: adding and counting jobs needs no connection of its own.
    this.queue = new Queue<GenerationJob>(QUEUE_NAME, { connection: redis, prefix: bullPrefix(prefix, redis) });
  }

  async submit(job: GenerationJob, priority: number): Promise<void> {
    const counts = await this.queue.getJobCounts('waiting', 'prioritized', 'delayed');
    const waiting = (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0);
    if (waiting >= this.settings.maxWaiting) throw overloaded(this.settings.maxWaiting);
    // The generation id is the job id: the same generation can never be queued twice.
    await this.queue.add('generate', job, { jobId: `generation-${job.generationId}`, priority, removeOnComplete: 1000, removeOnFail: 1000 });
  }

  async depth() {
    const counts = await this.queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active');
    return { waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0), active: counts.active ?? 0 };
  }

  async close() {
    await this.queue.close();
  }
}

/**
 * A BullMQ worker. A job whose worker dies is "stalled": once its lock
 * lapses (`lockDurationMs`) another worker takes it up again, and
 * runGeneration's guards make the second run finish it exactly once.
 */
export function startBullMqWorker(options: {
  /** For the worker's blocking connection, which must be its own. */
  redisTarget: RedisTarget;
  /** The process's shared connection: key health and purge requests go through it. */
  redis: RedisClient;
  prefix: string;
  settings: QueueSettings;
  lockDurationMs: number;
  deps: RunDependencies & { provider: PooledProvider };
  log: Logger;
}): { close(): Promise<void> } {
  // The subgraph's admin query reads every worker's key health from Redis.
  const redis = options.redis;
  const board = keyStatusBoard(redis, options.prefix);
  const deps = {
    ...options.deps,
    purge: async (tags: string[]) => {
      // Its id lets one router claim the request and purge Redis once, however many routers hear it.
      await redis.publish(`${options.prefix}${PURGE_REQUEST_CHANNEL}`, purgeRequestMessage(tags));
    },
  };
  const workerId = `${process.pid}-${randomBytes(3).toString('hex')}`;
  const publish = () =>
    board.publish(workerId, options.deps.provider.stats()).catch((error: unknown) => options.log.warn({ err: error }, 'key status not published'));
  void publish();
  const report = setInterval(publish, 5_000);
  // BullMQ leaves a connection it is handed open, and blocks on a copy of it: this one is closed below.
  const connection = createRedis(options.redisTarget, 'memegraph-ai-worker-jobs', { maxRetriesPerRequest: null, offlineQueue: true });
  const worker = new Worker<GenerationJob>(
    QUEUE_NAME,
    (job) => runGeneration(deps, job.data, AbortSignal.timeout(options.settings.jobTimeoutMs)),
    {
      connection,
      prefix: bullPrefix(options.prefix, connection),
      concurrency: options.settings.concurrency,
      lockDuration: options.lockDurationMs,
      stalledInterval: options.lockDurationMs,
      maxStalledCount: 5,
    },
  );
  worker.on('failed', (job, error) => options.log.error({ err: error, jobId: job?.id }, 'generation job failed'));
  worker.on('error', (error) => options.log.error({ err: error }, 'generation worker error'));
  return {
    async close() {
      clearInterval(report);
      await worker.close();
      await connection.quit();
    },
  };
}

interface Waiting {
  job: GenerationJob;
  priority: number;
  seq: number;
}

/**
 * The embedded default without Redis: the same contract (priority, bounded
 * concurrency, bounded waiting line, timeouts) inside this one process.
 */
export class MemoryQueue implements GenerationQueue {
  private readonly waiting: Waiting[] = [];
  private active = 0;
  private seq = 0;
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly settings: QueueSettings,
    private readonly deps: RunDependencies,
  ) {}

  async submit(job: GenerationJob, priority: number): Promise<void> {
    if (this.waiting.length >= this.settings.maxWaiting) throw overloaded(this.settings.maxWaiting);
    const entry = { job, priority, seq: this.seq++ };
    // Keep the line sorted: by priority, then arrival.
    let i = this.waiting.length;
    while (i > 0 && (this.waiting[i - 1]!.priority > priority || (this.waiting[i - 1]!.priority === priority && this.waiting[i - 1]!.seq > entry.seq))) i--;
    this.waiting.splice(i, 0, entry);
    this.pump();
  }

  private pump(): void {
    while (this.active < this.settings.concurrency && this.waiting.length > 0) {
      const { job } = this.waiting.shift()!;
      this.active++;
      const run = runGeneration(this.deps, job, AbortSignal.timeout(this.settings.jobTimeoutMs)).finally(() => {
        this.active--;
        this.running.delete(run);
        this.pump();
      });
      this.running.add(run);
    }
  }

  async depth() {
    return { waiting: this.waiting.length, active: this.active };
  }

  async close() {
    this.waiting.length = 0;
    await Promise.allSettled([...this.running]);
  }
}
