import type { MemesContext } from '../context';
import type { TemplateInfo } from '../rows';
import { maybeDbId } from '../validation';

export const Template = {
  __resolveReference: (reference: { id: unknown }, ctx: MemesContext): Promise<TemplateInfo | null> | null => {
    const id = maybeDbId(reference.id);
    return id === null ? null : ctx.loaders.template.load(id);
  },
  imageUrl: (template: TemplateInfo, _args: unknown, ctx: MemesContext): string => ctx.urls.template(template.id),
};
