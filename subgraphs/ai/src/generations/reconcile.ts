import { ErrorCode, type Logger } from '@memegraph/service-kit';
import type { AnnounceChange } from './events';
import type { GenerationRow, GenerationStore } from './store';

export type UnfinishedGeneration = Pick<GenerationRow, 'id' | 'user_id' | 'prompt' | 'template_id' | 'priority'>;

/** The queue as the reconciler sees it. */
export interface RestorableQueue {
  /** Queues those whose job is gone; returns how many, and those whose job ended without finishing them. */
  restore(generations: UnfinishedGeneration[]): Promise<{ requeued: number; abandoned: string[] }>;
}

const PAGE = 500;

/**
 * PostgreSQL is the record of every accepted generation; Redis only holds
 * the work. When Redis comes back without the queue (restarted without
 * persistence, flushed, a replica promoted before it caught up), every
 * generation still QUEUED or RUNNING whose job is gone is queued again; one
 * whose job gave up without recording an outcome is marked FAILED. Runs at
 * start, then every `intervalMs`, one run at a time; replicas may run it
 * together (re-adding a job id the queue holds is a no-op).
 */
export function startReconciler(options: {
  store: GenerationStore;
  queue: RestorableQueue;
  intervalMs: number;
  log: Logger;
  /** Tells the routers of each generation marked FAILED here, for subscribers. */
  announce?: AnnounceChange;
}): { close(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let current: Promise<void> = Promise.resolve();

  const reconcile = async () => {
    let requeued = 0;
    let after = '0';
    for (;;) {
      const page = await options.store.unfinished(after, PAGE);
      if (page.length === 0) break;
      const outcome = await options.queue.restore(page);
      requeued += outcome.requeued;
      for (const id of outcome.abandoned) {
        const owner = await options.store.markFailed(id, ErrorCode.TASK_FAILED, 'The generation failed');
        if (owner) await options.announce?.(id, owner, 'FAILED');
      }
      if (outcome.abandoned.length > 0)
        options.log.warn({ generations: outcome.abandoned }, 'generations whose job gave up marked FAILED');
      if (page.length < PAGE || closed) break;
      after = page[page.length - 1]!.id;
    }
    if (requeued > 0) options.log.warn({ requeued }, 'generations missing from the queue queued again');
  };

  const loop = () => {
    current = reconcile()
      .catch((error: unknown) => options.log.error({ err: error }, 'generation reconcile failed'))
      .finally(() => {
        if (!closed) timer = setTimeout(loop, options.intervalMs);
      });
  };
  loop();

  return {
    async close() {
      closed = true;
      clearTimeout(timer);
      await current;
    },
  };
}
