import { pageSize } from '@memegraph/service-kit';
import { memeConnection, pageRequest, type MemeConnection } from '../connection';
import type { MemesContext } from '../context';
import type { MemeRow, TemplateInfo } from '../rows';
import { allTemplates, newestMemes, randomMeme, searchMemes, trendingMemes } from '../store';
import { dbId, normaliseTag, searchText } from '../validation';
import { canSeeAi } from '../visibility';

interface PageArgs {
  first?: number | null;
  after?: string | null;
}

/** Rows read by a list are the same rows a later by-id lookup would return; hand them to the loader. */
function primed(ctx: MemesContext, rows: MemeRow[]): MemeRow[] {
  for (const row of rows) ctx.loaders.meme.prime(row.id, row);
  return rows;
}

async function newest(ctx: MemesContext, args: PageArgs, tag: string | null): Promise<MemeConnection> {
  const page = pageRequest(args.first, args.after);
  const rows = await newestMemes(ctx.db, {
    limit: page.size + 1,
    afterId: page.afterId,
    tag,
    seeAi: canSeeAi(ctx.viewer),
  });
  return memeConnection(primed(ctx, rows), page);
}

export const Query = {
  meme: (_: unknown, args: { id: string }, ctx: MemesContext): Promise<MemeRow | null> =>
    ctx.loaders.meme.load(dbId(args.id)),

  memes: (_: unknown, args: PageArgs & { tag?: string | null }, ctx: MemesContext): Promise<MemeConnection> =>
    newest(ctx, args, args.tag === null || args.tag === undefined ? null : normaliseTag(args.tag, 'tag')),

  /**
   * Newest first, like `memes`, with whatever the viewer may see: that is
   * where Memes AI viewers get the AI memes everyone else never receives.
   */
  feed: (_: unknown, args: PageArgs, ctx: MemesContext): Promise<MemeConnection> => newest(ctx, args, null),

  trending: async (_: unknown, args: { first?: number | null }, ctx: MemesContext): Promise<MemeRow[]> =>
    primed(ctx, await trendingMemes(ctx.db, pageSize(args.first, 10), canSeeAi(ctx.viewer))),

  search: async (_: unknown, args: { text: string; first?: number | null }, ctx: MemesContext): Promise<MemeRow[]> => {
    const text = searchText(args.text);
    return primed(ctx, await searchMemes(ctx.db, text, pageSize(args.first), canSeeAi(ctx.viewer)));
  },

  randomMeme: async (_: unknown, _args: unknown, ctx: MemesContext): Promise<MemeRow | null> => {
    const row = await randomMeme(ctx.db, canSeeAi(ctx.viewer));
    return row && primed(ctx, [row])[0]!;
  },

  templates: async (_: unknown, _args: unknown, ctx: MemesContext): Promise<TemplateInfo[]> => {
    const rows = await allTemplates(ctx.db);
    for (const row of rows) ctx.loaders.template.prime(row.id, row);
    return rows;
  },

  template: (_: unknown, args: { id: string }, ctx: MemesContext): Promise<TemplateInfo | null> =>
    ctx.loaders.template.load(dbId(args.id)),
};
