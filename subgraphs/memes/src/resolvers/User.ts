import { memeConnection, pageRequest, type MemeConnection } from '../connection';
import type { MemesContext } from '../context';
import { maybeDbId } from '../validation';

/** The part of a user this subgraph knows: the id, and the memes made under it. */
export interface UserRef {
  id: string;
}

export const User = {
  /**
   * Users are owned by the users subgraph; any id it hands over is taken on
   * trust, and a user without memes simply has an empty list here.
   */
  __resolveReference: (reference: { id: unknown }): UserRef | null => {
    const id = maybeDbId(reference.id);
    return id === null ? null : { id };
  },

  memes: async (
    user: UserRef,
    args: { first?: number | null; after?: string | null },
    ctx: MemesContext,
  ): Promise<MemeConnection> => {
    const page = pageRequest(args.first, args.after);
    // The rows are not handed to the meme loader: its lookups come from a fetch's top-level fields
    // (entities, meme(id:)), which load before any author's page is read; priming cost a promise per row.
    const rows = await ctx.loaders.authorMemes.load({ authorId: user.id, limit: page.size + 1, afterId: page.afterId });
    return memeConnection(rows, page);
  },
};
