import { GraphQLError } from 'graphql';
import { ErrorCode, type Logger } from '@memegraph/service-kit';
import type { Catalog } from '../catalog';
import type { MemeProvider } from '../providers/provider';
import { resultKey, type ResultCache } from './resultCache';
import type { GenerationStore } from './store';

/** Everything a worker needs to run one generation to its end. */
export interface GenerationJob {
  generationId: string;
  userId: string;
  prompt: string;
  /** Chosen when the generation was accepted, so every attempt uses the same one. */
  templateId: string;
}

export interface RunDependencies {
  store: GenerationStore;
  catalog: Catalog;
  provider: MemeProvider;
  results: ResultCache;
  log: Logger;
  /** Asks the routers to purge cached responses holding these tags (a new meme changes lists). */
  purge?: (tags: string[]) => Promise<void>;
}

const CODES_FROM_PROVIDERS = new Set<string>([ErrorCode.AI_SERVICE_UNAVAILABLE, ErrorCode.QUOTA_EXCEEDED]);

/**
 * Runs one generation: provider → catalog handoff → recorded outcome.
 * Safe to run again for the same job (a worker died mid-way): a finished
 * generation is left alone, and the catalog hands back the meme it already
 * made for this generation id, so a job completes exactly once.
 */
export async function runGeneration(deps: RunDependencies, job: GenerationJob, signal?: AbortSignal): Promise<void> {
  const [row] = await deps.store.byIds([job.generationId]);
  if (!row || row.status === 'SUCCEEDED' || row.status === 'FAILED') return;
  try {
    await deps.store.markRunning(job.generationId, job.templateId);
    const key = resultKey(job.prompt, job.templateId);
    const known = await deps.results.get(key);
    if (known) {
      await deps.store.markSucceeded(job.generationId, known, true);
      return;
    }
    const material = await deps.catalog.captions(job.templateId);
    const generated = await deps.provider.generate({ prompt: job.prompt, template: material.template, captions: material.captions }, signal);
    const meme = await deps.catalog.addAiMeme({ ...generated, generationId: job.generationId, templateId: job.templateId, authorId: job.userId, prompt: job.prompt });
    await deps.results.set(key, meme.id);
    await deps.store.markSucceeded(job.generationId, meme.id, false);
    // The new AI meme belongs in cached feeds and lists now, not when they expire.
    await deps.purge?.(['Meme:list', `User:${job.userId}`]).catch((error: unknown) => deps.log.warn({ err: error }, 'cache purge not requested'));
  } catch (error) {
    const code = error instanceof GraphQLError && typeof error.extensions.code === 'string' ? error.extensions.code : ErrorCode.TASK_FAILED;
    deps.log.warn({ err: error, generationId: job.generationId }, 'generation failed');
    const message = CODES_FROM_PROVIDERS.has(code) ? (error as Error).message : 'The generation failed';
    await deps.store.markFailed(job.generationId, CODES_FROM_PROVIDERS.has(code) ? code : ErrorCode.TASK_FAILED, message);
  }
}
