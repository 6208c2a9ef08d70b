import { GraphQLError } from 'graphql';
import {
  ErrorCode,
  SpanKind,
  currentRequestId,
  inSpan,
  linksTo,
  traceCarrier,
  withRequestId,
  type Logger,
  type TraceCarrier,
} from '@memegraph/service-kit';
import type { Catalog } from '../catalog';
import type { MemeProvider } from '../providers/provider';
import type { AnnounceChange } from './events';
import { resultKey, type ResultCache } from './resultCache';
import type { GenerationStore } from './store';

/** Everything a worker needs to run one generation to its end. */
export interface GenerationJob {
  generationId: string;
  userId: string;
  prompt: string;
  /** Chosen when the generation was accepted, so every attempt uses the same one. */
  templateId: string;
  /** The trace context of the request that queued it: the run's span links to that request's. */
  trace?: TraceCarrier;
  /** The id of that request, on the run's log lines. */
  requestId?: string;
}

/** A job as queued now: with the trace context and request id of the request queuing it. */
export function queuedJob(job: GenerationJob): GenerationJob {
  return { ...job, trace: traceCarrier(), requestId: currentRequestId() };
}

export interface RunDependencies {
  store: GenerationStore;
  catalog: Catalog;
  provider: MemeProvider;
  results: ResultCache;
  log: Logger;
  /** Asks the routers to purge cached responses holding these tags (a new meme changes lists). */
  purge?: (tags: string[]) => Promise<void>;
  /** Tells the routers of each change of status, for subscribers. */
  announce?: AnnounceChange;
}

const CODES_FROM_PROVIDERS = new Set<string>([ErrorCode.AI_SERVICE_UNAVAILABLE, ErrorCode.QUOTA_EXCEEDED]);

/**
 * The catalog (the memes subgraph) did not answer or failed: the job is run
 * again later, with backoff, instead of failing a generation that was accepted.
 */
export class CatalogUnavailableError extends Error {
  constructor(cause: unknown) {
    super('The catalog is unavailable; the generation will be retried', { cause });
    this.name = 'CatalogUnavailableError';
  }
}

/** A catalog call; its own refusals (bad input, no such template) are final, anything else is worth a retry. */
async function fromCatalog<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof GraphQLError && error.extensions.code === ErrorCode.DOWNSTREAM_SERVICE_ERROR)
      throw new CatalogUnavailableError(error);
    throw error;
  }
}

export interface RunAttempt {
  /** Aborts the provider call when the job runs too long. */
  signal?: AbortSignal;
  /** No run comes after this one: a generation the catalog could not take is FAILED now. */
  final: boolean;
}

/**
 * Runs one generation: provider → catalog handoff → recorded outcome.
 * Safe to run again for the same job (a worker died mid-way, or the catalog
 * was away): a finished generation is left alone, the provider's meme is
 * kept with the generation so a second run hands the same one over, and the
 * catalog hands back the meme it already made for this generation id (the
 * first handoff may have succeeded with its answer lost), so a job completes
 * exactly once with one catalog meme.
 *
 * Throws CatalogUnavailableError, unless `attempt.final`, when the catalog
 * cannot be reached: the queue runs the job again after a backoff.
 */
export function runGeneration(deps: RunDependencies, job: GenerationJob, attempt: RunAttempt): Promise<void> {
  // Each run is a trace of its own, linked to the request that queued the job.
  const run = () =>
    inSpan(
      'generation.run',
      {
        root: true,
        kind: SpanKind.CONSUMER,
        links: linksTo(job.trace),
        attributes: { 'memegraph.generation.id': job.generationId, 'memegraph.generation.final': attempt.final },
      },
      () => runJob(deps, job, attempt),
    );
  return job.requestId ? withRequestId(job.requestId, run) : run();
}

async function runJob(deps: RunDependencies, job: GenerationJob, attempt: RunAttempt): Promise<void> {
  const [row] = await deps.store.byIds([job.generationId]);
  if (!row || row.status === 'SUCCEEDED' || row.status === 'FAILED') return;
  const announce = deps.announce ?? (async () => undefined);
  try {
    // Every generation still waiting moved up the line: their queue positions changed too.
    if (await deps.store.markRunning(job.generationId, job.templateId))
      await announce(job.generationId, job.userId, 'RUNNING', true);
    const key = resultKey(job.prompt, job.templateId);
    const known = await deps.results.get(key);
    if (known) {
      if (await deps.store.markSucceeded(job.generationId, known, true))
        await announce(job.generationId, job.userId, 'SUCCEEDED');
      return;
    }
    let generated = row.output;
    if (!generated) {
      const material = await fromCatalog(() => deps.catalog.captions(job.templateId));
      generated = await deps.provider.generate(
        { prompt: job.prompt, template: material.template, captions: material.captions },
        attempt.signal,
      );
      await deps.store.saveOutput(job.generationId, generated);
    }
    const output = generated;
    const meme = await fromCatalog(() =>
      deps.catalog.addAiMeme({
        ...output,
        generationId: job.generationId,
        templateId: job.templateId,
        authorId: job.userId,
        prompt: job.prompt,
      }),
    );
    await deps.results.set(key, meme.id);
    if (await deps.store.markSucceeded(job.generationId, meme.id, false))
      await announce(job.generationId, job.userId, 'SUCCEEDED');
    // The new AI meme belongs in cached feeds and lists now, not when they expire.
    await deps
      .purge?.(['Meme:list', `User:${job.userId}`])
      .catch((error: unknown) => deps.log.warn({ err: error }, 'cache purge not requested'));
  } catch (error) {
    if (error instanceof CatalogUnavailableError && !attempt.final) {
      deps.log.warn(
        { err: error.cause, generationId: job.generationId },
        'catalog unavailable; the generation will be retried',
      );
      throw error;
    }
    const code =
      error instanceof GraphQLError && typeof error.extensions.code === 'string'
        ? error.extensions.code
        : ErrorCode.TASK_FAILED;
    deps.log.warn({ err: error, generationId: job.generationId }, 'generation failed');
    const message = CODES_FROM_PROVIDERS.has(code) ? (error as Error).message : 'The generation failed';
    const failed = await deps.store.markFailed(
      job.generationId,
      CODES_FROM_PROVIDERS.has(code) ? code : ErrorCode.TASK_FAILED,
      message,
    );
    if (failed) await announce(job.generationId, job.userId, 'FAILED');
  }
}
