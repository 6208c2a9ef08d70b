import { Scope, forbidden, hasScope } from '@memegraph/service-kit';
import type { MemesContext } from '../context';
import type { MemeRow, TemplateInfo } from '../rows';
import { maybeDbId } from '../validation';

export const Meme = {
  /** The router resolving `{ __typename: "Meme", id }`: null when the meme is missing or not for this viewer. */
  __resolveReference: (reference: { id: unknown }, ctx: MemesContext): Promise<MemeRow | null> | null => {
    const id = maybeDbId(reference.id);
    return id === null ? null : ctx.loaders.meme.load(id);
  },
  topText: (meme: MemeRow) => meme.top_text,
  bottomText: (meme: MemeRow) => meme.bottom_text,
  createdAt: (meme: MemeRow) => meme.created_at,
  /**
   * Lists read the template's name with each meme: answered on the spot, so a page of memes completes
   * without a promise per meme (GraphQL then builds each meme's object synchronously).
   */
  template: (meme: MemeRow, _args: unknown, ctx: MemesContext): TemplateInfo | Promise<TemplateInfo> =>
    meme.template_name === undefined ? loadTemplate(meme, ctx) : { id: meme.template_id, name: meme.template_name },
  /** Users live in the users subgraph; the router fetches the rest of them from there. */
  author: (meme: MemeRow) => ({ __typename: 'User' as const, id: meme.author_id }),
  viewerVote: (meme: MemeRow, _args: unknown, ctx: MemesContext): Promise<number | null> =>
    ctx.loaders.viewerVote.load(meme.id),
  imageUrl: (meme: MemeRow, _args: unknown, ctx: MemesContext): string => ctx.urls.meme(meme),
  /** Premium content: the router removes this field for other viewers; checked again here. */
  prompt: (meme: MemeRow, _args: unknown, ctx: MemesContext): string | null => {
    if (ctx.viewer.kind !== 'service' && !hasScope(ctx.viewer, Scope.AI))
      throw forbidden('Meme.prompt is for Memes AI viewers');
    return meme.prompt;
  },
};

async function loadTemplate(meme: MemeRow, ctx: MemesContext): Promise<TemplateInfo> {
  const template = await ctx.loaders.template.load(meme.template_id);
  // The foreign key makes this unreachable; a null here would break a non-null field less clearly.
  if (!template) throw new Error(`Template ${meme.template_id} of meme ${meme.id} is missing`);
  return template;
}
