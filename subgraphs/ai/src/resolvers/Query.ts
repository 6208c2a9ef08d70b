import type { AiContext } from '../context';
import { requireAiViewer } from './access';
import { visibleTo } from './Generation';

export const Query = {
  async generation(_root: unknown, args: { id: string }, context: AiContext) {
    requireAiViewer(context.viewer);
    if (!/^\d{1,18}$/.test(args.id)) return null;
    return visibleTo(await context.loaders.generationById.load(args.id), context);
  },
};
