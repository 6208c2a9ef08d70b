import { Scope, badUserInput, forbidden, hasScope, unauthenticated, type Viewer } from '@memegraph/service-kit';
import type { MemesContext } from '../context';
import type { MemeRow } from '../rows';
import { castVote, insertMeme } from '../store';
import { dbId, maybeDbId, validateMemeInput } from '../validation';
import { canSeeAi } from '../visibility';

/**
 * The router enforces @authenticated and @requiresScopes before planning;
 * this is the subgraph's own check, in case a call ever gets here without it.
 */
function signedInWriter(viewer: Viewer): string {
  if (viewer.kind === 'anonymous') throw unauthenticated();
  if (viewer.kind !== 'user') throw forbidden('Only a signed-in user can do this');
  if (!hasScope(viewer, Scope.WRITE)) throw forbidden(`This needs the ${Scope.WRITE} scope`);
  // Authors and voters are users-subgraph ids, bigints in our tables.
  const userId = maybeDbId(viewer.userId);
  if (userId === null) throw forbidden('This viewer has no user id this service can record');
  return userId;
}

export const Mutation = {
  createMeme: async (_: unknown, args: { input: Record<string, unknown> }, ctx: MemesContext): Promise<MemeRow> => {
    const authorId = signedInWriter(ctx.viewer);
    const input = validateMemeInput(args.input);
    const meme = await insertMeme(ctx.db, { ...input, authorId, origin: 'HUMAN', generationId: null });
    if (!meme) throw badUserInput(`No template with id ${input.templateId}`, { field: 'templateId' });
    ctx.loaders.meme.prime(meme.id, meme);
    return meme;
  },

  vote: async (_: unknown, args: { memeId: string; value: number }, ctx: MemesContext): Promise<MemeRow> => {
    const userId = signedInWriter(ctx.viewer);
    const memeId = dbId(args.memeId, 'memeId');
    const value = args.value;
    if (value !== -1 && value !== 0 && value !== 1)
      throw badUserInput('value must be -1, 0 or 1', { argumentName: 'value' });
    const meme = await castVote(ctx.db, { memeId, userId, value, seeAi: canSeeAi(ctx.viewer) });
    if (!meme) throw badUserInput(`No meme with id ${memeId}`, { argumentName: 'memeId', reason: 'NOT_FOUND' });
    // This request's caches must show the vote it just made.
    ctx.loaders.meme.clear(meme.id).prime(meme.id, meme);
    ctx.loaders.viewerVote.clear(meme.id).prime(meme.id, value === 0 ? null : value);
    return meme;
  },
};
