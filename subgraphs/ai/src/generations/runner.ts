import { GraphQLError } from 'graphql';
import { ErrorCode, type Logger } from '@memegraph/service-kit';
import type { Catalog } from '../catalog';
import { pick } from '../providers/local';
import type { MemeProvider } from '../providers/provider';
import type { GenerationStore } from './store';

/** Everything a worker needs to run one generation to its end. */
export interface GenerationJob {
  generationId: string;
  userId: string;
  prompt: string;
  templateId: string | null;
}

/**
 * How accepted generations get run. This is the seam for the job queue:
 * `InlineRunner` runs a job before `submit` resolves; a queued runner
 * resolves once the job is safely enqueued and runs it in a worker.
 */
export interface GenerationRunner {
  submit(job: GenerationJob): Promise<void>;
}

export interface RunDependencies {
  store: GenerationStore;
  catalog: Catalog;
  provider: MemeProvider;
  log: Logger;
}

/** Runs one generation: provider → catalog handoff → recorded outcome. Never throws. */
export async function runGeneration(deps: RunDependencies, job: GenerationJob): Promise<void> {
  try {
    const templateId = job.templateId ?? pick(await deps.catalog.templates(), job.prompt).id;
    await deps.store.markRunning(job.generationId, templateId);
    const material = await deps.catalog.captions(templateId);
    const generated = await deps.provider.generate({ prompt: job.prompt, template: material.template, captions: material.captions });
    const meme = await deps.catalog.addAiMeme({ ...generated, generationId: job.generationId, templateId, authorId: job.userId, prompt: job.prompt });
    await deps.store.markSucceeded(job.generationId, meme.id);
  } catch (error) {
    const code = error instanceof GraphQLError && typeof error.extensions.code === 'string' ? error.extensions.code : ErrorCode.TASK_FAILED;
    deps.log.warn({ err: error, generationId: job.generationId }, 'generation failed');
    await deps.store.markFailed(job.generationId, code, code === ErrorCode.TASK_FAILED ? 'The generation failed' : (error as Error).message);
  }
}

export class InlineRunner implements GenerationRunner {
  constructor(private readonly deps: RunDependencies) {}

  submit(job: GenerationJob): Promise<void> {
    return runGeneration(this.deps, job);
  }
}
