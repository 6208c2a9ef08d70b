import type { AiContext } from '../context';
import type { GenerationRow } from '../generations/store';

/** A generation is its owner's business; anyone else gets null. */
export function visibleTo(row: GenerationRow | null, context: AiContext): GenerationRow | null {
  if (!row) return null;
  if (context.viewer.kind === 'service') return row;
  return context.viewer.kind === 'user' && context.viewer.userId === row.user_id ? row : null;
}

export const Generation = {
  __resolveReference: async (reference: { id: string }, context: AiContext) =>
    /^\d{1,18}$/.test(reference.id)
      ? visibleTo(await context.loaders.generationById.load(reference.id), context)
      : null,
  meme: (row: GenerationRow) => (row.meme_id ? { __typename: 'Meme' as const, id: row.meme_id } : null),
  queuePosition: (row: GenerationRow, _args: unknown, context: AiContext) =>
    row.status === 'QUEUED' ? context.loaders.queuePosition.load(row.id) : null,
  error: (row: GenerationRow) => (row.error_code ? { code: row.error_code, message: row.error_message ?? '' } : null),
  createdAt: (row: GenerationRow) => row.created_at,
  finishedAt: (row: GenerationRow) => row.finished_at,
};
