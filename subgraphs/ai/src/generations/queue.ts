import { randomBytes } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import {
  ErrorCode,
  PURGE_REQUEST_CHANNEL,
  codedError,
  createRedis,
  purgeRequestMessage,
  type Logger,
  type RedisClient,
  type RedisTarget,
} from '@memegraph/service-kit';
import type { PooledProvider } from '../providers/config';
import { keyStatusBoard } from '../providers/status';
import { generationAnnouncer, type AnnounceChange } from './events';
import { queuedJob, runGeneration, type GenerationJob, type RunDependencies } from './runner';
import { startReconciler, type UnfinishedGeneration } from './reconcile';

export const QUEUE_NAME = 'generations';

export interface QueueSettings {
  /** Jobs run at once per worker. */
  concurrency: number;
  /** Jobs allowed to wait; past it, QUEUE_OVERLOADED. */
  maxWaiting: number;
  /** A job running longer is aborted and fails. */
  jobTimeoutMs: number;
  /** Runs of a job in all: one whose catalog handoff failed is run again, up to this many. */
  attempts: number;
  /** Wait before the first rerun; it doubles for each one after… */
  retryDelayMs: number;
  /** …up to this. */
  maxRetryDelayMs: number;
}

/**
 * How long a job waits before its next run, after `attemptsMade` failed ones: exponential,
 * capped, half of it random so jobs failed by the same outage do not all come back at once.
 */
export function retryDelay(
  attemptsMade: number,
  settings: Pick<QueueSettings, 'retryDelayMs' | 'maxRetryDelayMs'>,
): number {
  const ceiling = Math.min(
    settings.maxRetryDelayMs,
    settings.retryDelayMs * 2 ** Math.min(Math.max(attemptsMade, 1) - 1, 30),
  );
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/** BullMQ's name for the backoff above; workers register it as their custom strategy. */
const BACKOFF_TYPE = 'catalog';

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
export const bullPrefix = (prefix: string, redis: RedisClient) =>
  redis.isCluster ? `${prefix}{bull}` : `${prefix}bull`;

const jobIdOf = (generationId: string) => `generation-${generationId}`;

const overloaded = (max: number) =>
  codedError(ErrorCode.QUEUE_OVERLOADED, `The generation queue is full (${max} waiting); try again shortly`);

/** The producer side of the BullMQ queue; workers run in their own processes (worker-main.ts). */
export class BullMqQueue implements GenerationQueue {
  private readonly queue: Queue<GenerationJob>;

  constructor(
    redis: RedisClient,
    prefix: string,
    private readonly settings: QueueSettings,
    /** Tells the routers of each accepted generation, for subscribers of the viewer's generations. */
    private readonly announce?: AnnounceChange,
  ) {
    // Shares the service's connection: adding and counting jobs needs no connection of its own.
    this.queue = new Queue<GenerationJob>(QUEUE_NAME, { connection: redis, prefix: bullPrefix(prefix, redis) });
  }

  async submit(job: GenerationJob, priority: number): Promise<void> {
    const counts = await this.queue.getJobCounts('waiting', 'prioritized', 'delayed');
    const waiting = (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0);
    if (waiting >= this.settings.maxWaiting) throw overloaded(this.settings.maxWaiting);
    await this.queue.add('generate', queuedJob(job), this.jobOptions(job.generationId, priority));
    await this.announce?.(job.generationId, job.userId, 'QUEUED');
  }

  private jobOptions(generationId: string, priority: number) {
    return {
      // The generation id is the job id: the same generation can never be queued twice.
      jobId: jobIdOf(generationId),
      priority,
      attempts: this.settings.attempts,
      backoff: { type: BACKOFF_TYPE },
      removeOnComplete: 1000,
      removeOnFail: 1000,
    };
  }

  /**
   * Queues again each of these unfinished generations whose job the queue no longer
   * holds (Redis lost it), and returns the ids of those whose job ended without
   * finishing them (it failed its last run, or stalled too often). Replicas may do
   * this at once: adding a job id the queue holds is a no-op, so no generation runs twice.
   */
  async restore(generations: UnfinishedGeneration[]): Promise<{ requeued: number; abandoned: string[] }> {
    const jobs = await Promise.all(generations.map((g) => this.queue.getJob(jobIdOf(g.id))));
    const missing: GenerationJob[] = [];
    const priorities: number[] = [];
    // A generation from before templates were chosen at acceptance cannot be run.
    const abandoned = generations.filter((g) => g.template_id === null).map((g) => g.id);
    generations.forEach((g, i) => {
      if (jobs[i] || g.template_id === null) return;
      missing.push({ generationId: g.id, userId: g.user_id, prompt: g.prompt, templateId: g.template_id });
      priorities.push(g.priority);
    });
    if (missing.length > 0) {
      await this.queue.addBulk(
        missing.map((job, i) => ({
          name: 'generate',
          data: job,
          opts: this.jobOptions(job.generationId, priorities[i]!),
        })),
      );
    }
    for (const [i, job] of jobs.entries()) {
      if (job?.finishedOn !== undefined && (await job.isFailed())) abandoned.push(generations[i]!.id);
    }
    return { requeued: missing.length, abandoned };
  }

  async depth() {
    const counts = await this.queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active');
    return {
      waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0),
      active: counts.active ?? 0,
    };
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
  /** How often unfinished generations in PostgreSQL are checked against the queue. */
  reconcileIntervalMs: number;
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
    announce: generationAnnouncer(redis, options.prefix, options.log),
  };
  const workerId = `${process.pid}-${randomBytes(3).toString('hex')}`;
  const publish = () =>
    board
      .publish(workerId, options.deps.provider.stats())
      .catch((error: unknown) => options.log.warn({ err: error }, 'key status not published'));
  void publish();
  const report = setInterval(publish, 5_000);
  // BullMQ leaves a connection it is handed open, and blocks on a copy of it: this one is closed below.
  const connection = createRedis(options.redisTarget, 'memegraph-ai-worker-jobs', {
    maxRetriesPerRequest: null,
    offlineQueue: true,
  });
  const worker = new Worker<GenerationJob>(
    QUEUE_NAME,
    (job) =>
      runGeneration(deps, job.data, {
        signal: AbortSignal.timeout(options.settings.jobTimeoutMs),
        // attemptsMade counts the runs that failed before this one.
        final: job.attemptsMade + 1 >= (job.opts.attempts ?? 1),
      }),
    {
      connection,
      prefix: bullPrefix(options.prefix, connection),
      concurrency: options.settings.concurrency,
      lockDuration: options.lockDurationMs,
      stalledInterval: options.lockDurationMs,
      maxStalledCount: 5,
      settings: { backoffStrategy: (attemptsMade) => retryDelay(attemptsMade, options.settings) },
    },
  );
  worker.on('failed', (job, error) => {
    const retried = job !== undefined && job.attemptsMade < (job.opts.attempts ?? 1);
    if (retried)
      options.log.warn({ err: error, jobId: job.id, attemptsMade: job.attemptsMade }, 'generation job will be retried');
    else options.log.error({ err: error, jobId: job?.id }, 'generation job failed');
  });
  worker.on('error', (error) => options.log.error({ err: error }, 'generation worker error'));
  // Redis may come back without the queue (restarted without persistence, flushed, failed over
  // to a replica that had not caught up): PostgreSQL's record of what was accepted puts it back.
  const producer = new BullMqQueue(redis, options.prefix, options.settings);
  const reconciler = startReconciler({
    store: options.deps.store,
    queue: producer,
    intervalMs: options.reconcileIntervalMs,
    log: options.log,
    announce: deps.announce,
  });
  return {
    async close() {
      clearInterval(report);
      await reconciler.close();
      await worker.close();
      await producer.close();
      await connection.quit();
    },
  };
}

interface Waiting {
  job: GenerationJob;
  priority: number;
  seq: number;
  /** Runs of this job that failed before. */
  attemptsMade: number;
}

/**
 * The embedded default without Redis: the same contract (priority, bounded
 * concurrency, bounded waiting line, timeouts, reruns with backoff while the
 * catalog is away) inside this one process.
 */
export class MemoryQueue implements GenerationQueue {
  private readonly waiting: Waiting[] = [];
  private active = 0;
  private seq = 0;
  private readonly running = new Set<Promise<void>>();
  /** Jobs waiting out their backoff before their next run. */
  private readonly delayed = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly settings: QueueSettings,
    private readonly deps: RunDependencies,
  ) {}

  async submit(job: GenerationJob, priority: number): Promise<void> {
    if (this.waiting.length + this.delayed.size >= this.settings.maxWaiting) throw overloaded(this.settings.maxWaiting);
    this.enqueue({ job: queuedJob(job), priority, seq: this.seq++, attemptsMade: 0 });
  }

  private enqueue(entry: Waiting): void {
    // Keep the line sorted: by priority, then arrival.
    let i = this.waiting.length;
    while (
      i > 0 &&
      (this.waiting[i - 1]!.priority > entry.priority ||
        (this.waiting[i - 1]!.priority === entry.priority && this.waiting[i - 1]!.seq > entry.seq))
    )
      i--;
    this.waiting.splice(i, 0, entry);
    this.pump();
  }

  private pump(): void {
    while (this.active < this.settings.concurrency && this.waiting.length > 0) {
      const entry = this.waiting.shift()!;
      this.active++;
      const final = entry.attemptsMade + 1 >= this.settings.attempts;
      const run = runGeneration(this.deps, entry.job, {
        signal: AbortSignal.timeout(this.settings.jobTimeoutMs),
        final,
      })
        .catch((error: unknown) => {
          if (final || this.closed)
            return this.deps.log.error({ err: error, generationId: entry.job.generationId }, 'generation job failed');
          const timer = setTimeout(
            () => {
              this.delayed.delete(timer);
              this.enqueue({ ...entry, attemptsMade: entry.attemptsMade + 1 });
            },
            retryDelay(entry.attemptsMade + 1, this.settings),
          );
          this.delayed.add(timer);
        })
        .finally(() => {
          this.active--;
          this.running.delete(run);
          this.pump();
        });
      this.running.add(run);
    }
  }

  async depth() {
    return { waiting: this.waiting.length + this.delayed.size, active: this.active };
  }

  async close() {
    this.closed = true;
    this.waiting.length = 0;
    for (const timer of this.delayed) clearTimeout(timer);
    this.delayed.clear();
    await Promise.allSettled([...this.running]);
  }
}
