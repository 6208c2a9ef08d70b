import { ErrorCode, badUserInput, codedError, internalRoute, type Queryable, type Route } from '@memegraph/service-kit';
import type { ImageUrls } from './images/urls';
import { allTemplates, bestCaptions, insertMeme, memeByGenerationId, templatesByIds } from './store';
import { dbId, promptText, validateMemeInput } from './validation';

/** How many captions the ai subgraph's offline provider gets to learn a template's style from. */
const CAPTIONS_PER_TEMPLATE = 50;
const GENERATION_ID = /^[A-Za-z0-9._:-]{1,200}$/;

/**
 * JSON endpoints for the ai subgraph. The memes subgraph stays the catalog
 * of record: finished AI memes arrive here, never by writes to its tables.
 */
export function internalRoutes(options: { db: Queryable; urls: ImageUrls }): Route[] {
  const { db, urls } = options;
  return [
    // GET /internal/templates → { templates: [{ id, name }] }
    internalRoute('GET', /^\/internal\/templates$/, async () => ({
      templates: (await allTemplates(db)).map((t) => ({ id: t.id, name: t.name })),
    })),

    // GET /internal/templates/{id}/captions → { template: { id, name }, captions: [{ topText, bottomText }] }
    internalRoute('GET', /^\/internal\/templates\/(\d{1,18})\/captions$/, async ({ match }) => {
      const id = dbId(match[1]!, 'template id');
      const [template] = await templatesByIds(db, [id]);
      if (!template) throw codedError(ErrorCode.NOT_FOUND, `No template with id ${id}`);
      return {
        template: { id: template.id, name: template.name },
        captions: await bestCaptions(db, id, CAPTIONS_PER_TEMPLATE),
      };
    }),

    // POST /internal/ai-memes { generationId, title, topText, bottomText, templateId, tags, authorId, prompt } → { meme: { id, imageUrl } }
    internalRoute('POST', /^\/internal\/ai-memes$/, async ({ body }) => {
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        throw badUserInput('Body must be a JSON object');
      const fields = body as Record<string, unknown>;
      const generationId = fields.generationId;
      if (typeof generationId !== 'string' || !GENERATION_ID.test(generationId)) {
        throw badUserInput('generationId must be 1 to 200 characters of A-Z, a-z, 0-9 and ._:-', {
          field: 'generationId',
        });
      }
      if (typeof fields.authorId !== 'string' && typeof fields.authorId !== 'number') {
        throw badUserInput('authorId must be a user id', { field: 'authorId' });
      }
      const authorId = dbId(String(fields.authorId), 'authorId');
      const input = validateMemeInput(fields);
      const prompt = promptText(fields.prompt);
      // A retried hand-over (the job ran twice, or the answer was lost) finds the meme the first one made.
      const meme =
        (await insertMeme(db, { ...input, authorId, origin: 'AI', generationId, prompt })) ??
        (await memeByGenerationId(db, generationId));
      if (!meme) throw badUserInput(`No template with id ${input.templateId}`, { field: 'templateId' });
      return { meme: { id: meme.id, imageUrl: urls.meme(meme) } };
    }),
  ];
}
