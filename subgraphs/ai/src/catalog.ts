import type { InternalClient } from '@memegraph/service-kit';
import type { GeneratedMeme } from './providers/provider';

/**
 * The memes subgraph is the catalog of record; this is the AI subgraph's
 * only way to read templates and hand finished memes over.
 */
export function createCatalog(call: InternalClient, memesUrl: string) {
  const at = (path: string) => new URL(path, memesUrl);
  return {
    templates: async () =>
      (await call<{ templates: { id: string; name: string }[] }>(at('/internal/templates'))).templates,
    captions: (templateId: string) =>
      call<{ template: { id: string; name: string }; captions: { topText: string; bottomText: string }[] }>(
        at(`/internal/templates/${encodeURIComponent(templateId)}/captions`),
      ),
    /** Idempotent on generationId: handing the same generation over twice yields one meme. */
    addAiMeme: async (
      input: GeneratedMeme & { generationId: string; templateId: string; authorId: string; prompt: string },
    ) => (await call<{ meme: { id: string; imageUrl: string } }>(at('/internal/ai-memes'), input)).meme,
  };
}

export type Catalog = ReturnType<typeof createCatalog>;
