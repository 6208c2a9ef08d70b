import { ErrorCode, badUserInput, codedError, parseId } from '@memegraph/service-kit';
import type { AiContext } from '../context';
import { resultKey } from '../generations/resultCache';
import { pick } from '../providers/local';
import { requireAiViewer } from './access';

const MAX_PROMPT = 280;
const CONTROL = /[\u0000-\u001F\u007F-\u009F]/;

export const Mutation = {
  /**
   * Accepts a generation and returns it at once: QUEUED with its place in
   * line, or SUCCEEDED when the same request was answered in the last ten
   * minutes (no provider call).
   */
  async generateMeme(
    _root: unknown,
    args: { input: { prompt: string; templateId?: string | null } },
    context: AiContext,
  ) {
    const userId = requireAiViewer(context.viewer);
    const prompt = args.input.prompt.replace(/\s+/g, ' ').trim();
    if (prompt.length < 1 || prompt.length > MAX_PROMPT) {
      throw badUserInput(`prompt must be 1 to ${MAX_PROMPT} characters`, { argumentName: 'prompt' });
    }
    // PostgreSQL refuses NUL in text, and the meme's SVG cannot hold control characters.
    if (CONTROL.test(prompt))
      throw badUserInput('prompt must not contain control characters', { argumentName: 'prompt' });
    const templates = await context.templates();
    let templateId: string;
    if (args.input.templateId) {
      templateId = parseId(args.input.templateId, 'templateId');
      if (!templates.some((t) => t.id === templateId))
        throw badUserInput('templateId names no template', { argumentName: 'templateId' });
    } else {
      if (templates.length === 0)
        throw codedError(ErrorCode.AI_SERVICE_UNAVAILABLE, 'The catalog has no templates yet');
      templateId = pick(templates, prompt.toLowerCase()).id;
    }

    const limits = context.tiers[context.viewer.tier];
    const taken = await context.rate.take(userId, limits.aiGenerationsPerMinute);
    if (!taken.allowed) {
      throw codedError(
        ErrorCode.RATE_LIMIT_EXCEEDED,
        `At most ${limits.aiGenerationsPerMinute} generations a minute on this plan`,
        {
          retryAfterSeconds: Math.max(1, Math.ceil(taken.retryAfterMs / 1000)),
        },
      );
    }

    const known = await context.results.get(resultKey(prompt, templateId));
    if (known)
      return context.store.createFinished({
        userId,
        prompt,
        templateId,
        provider: context.providerName,
        memeId: known,
      });

    const generation = await context.store.create({
      userId,
      prompt,
      templateId,
      provider: context.providerName,
      priority: limits.aiPriority,
    });
    try {
      await context.queue.submit({ generationId: generation.id, userId, prompt, templateId }, limits.aiPriority);
    } catch (error) {
      // Refused by the queue: no generation was accepted, so none is left behind.
      await context.store.remove(generation.id);
      throw error;
    }
    return generation;
  },
};
