import { badUserInput, parseId } from '@memegraph/service-kit';
import type { AiContext } from '../context';
import { requireAiViewer } from './access';

const MAX_PROMPT = 280;

export const Mutation = {
  async generateMeme(_root: unknown, args: { input: { prompt: string; templateId?: string | null } }, context: AiContext) {
    const userId = requireAiViewer(context.viewer);
    const prompt = args.input.prompt.replace(/\s+/g, ' ').trim();
    if (prompt.length < 1 || prompt.length > MAX_PROMPT) {
      throw badUserInput(`prompt must be 1 to ${MAX_PROMPT} characters`, { argumentName: 'prompt' });
    }
    const templateId = args.input.templateId ? parseId(args.input.templateId, 'templateId') : null;
    if (templateId && !(await context.catalog.templates()).some((t) => t.id === templateId)) {
      throw badUserInput('templateId names no template', { argumentName: 'templateId' });
    }
    const generation = await context.store.create({ userId, prompt, templateId, provider: context.providerName });
    await context.runner.submit({ generationId: generation.id, userId, prompt, templateId });
    // Read back: with the inline runner the job has finished by now; with a queue it may still be waiting.
    const [latest] = await context.store.byIds([generation.id]);
    return latest ?? generation;
  },
};
