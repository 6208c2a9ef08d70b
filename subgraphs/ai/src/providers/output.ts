import { z } from 'zod';
import { BadOutputError, redact } from './errors';
import type { GeneratedMeme, GenerationRequest } from './provider';

/** The memes catalog's own limits (`subgraphs/memes/src/validation.ts`); a meme beyond them would be refused at hand-over. */
export const OUTPUT_LIMITS = { title: 120, caption: 120, tags: 5, tag: 32 } as const;

/** How many of the template's catalog captions go into a prompt: enough for tone, few enough to keep tokens cheap. */
const MAX_EXAMPLES = 8;

export const SYSTEM_PROMPT = [
  'You write captions for image memes.',
  'The user message is a JSON object: "prompt" is what the meme should be about, "template" names the meme image,',
  'and "examples" are captions of popular memes made with that template, for tone and format only: do not copy them.',
  'Reply with one JSON object and nothing else, of this shape:',
  '{"title": string, "topText": string, "bottomText": string, "tags": string[]}.',
  `title is a short headline (at most ${OUTPUT_LIMITS.title} characters); topText is the setup drawn at the top of the image`,
  `and bottomText the punchline drawn at the bottom (each at most ${OUTPUT_LIMITS.caption} characters);`,
  `tags are at most ${OUTPUT_LIMITS.tags} lowercase words, a-z, 0-9 and hyphens.`,
  'Write in the language of the prompt. Be funny, never cruel: no slurs, nothing about private persons.',
].join(' ');

/** The user message: the request as JSON, so a prompt cannot pass itself off as instructions about the format. */
export function userMessage(request: GenerationRequest): string {
  return JSON.stringify({
    prompt: request.prompt,
    template: request.template.name,
    examples: request.captions.slice(0, MAX_EXAMPLES).map((c) => ({ topText: c.topText, bottomText: c.bottomText })),
  });
}

const modelMeme = z.object({
  title: z.string(),
  topText: z.string(),
  bottomText: z.string(),
  tags: z.array(z.string()).optional().default([]),
});

// Control characters cannot be drawn and are not allowed in the SVG the meme becomes.
const CONTROL = /[\u0000-\u001F\u007F-\u009F]/g;

const tidy = (text: string) => text.replace(CONTROL, ' ').replace(/\s+/g, ' ').trim();

/** Shortens to at most `max` characters (code points), at a word boundary when one is near. */
export function clipText(text: string, max: number): string {
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  const cut = chars.slice(0, max + 1).join('');
  const space = cut.lastIndexOf(' ');
  const clipped = space > cut.length / 2 ? cut.slice(0, space) : chars.slice(0, max).join('');
  return clipped.trimEnd();
}

/** A model's tag, made to fit the catalog's rule (1–32 of a-z, 0-9, -), or null when nothing is left. */
export function normaliseTag(raw: string): string | null {
  const tag = raw
    .normalize('NFKD')
    .toLowerCase()
    .replace(/^#/, '')
    .replace(/[\s_]+/g, '-')
    .replace(/[^a-z0-9-]/g, '')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, OUTPUT_LIMITS.tag)
    .replace(/-+$/, '');
  return tag.length > 0 ? tag : null;
}

/** The first JSON object in a model's answer: models wrap it in code fences or a sentence despite being asked not to. */
function extractObject(content: string): string | null {
  const start = content.indexOf('{');
  const end = content.lastIndexOf('}');
  return start >= 0 && end > start ? content.slice(start, end + 1) : null;
}

/**
 * Turns a model's text answer into a meme the catalog will accept: parsed,
 * checked with zod, then tidied and clipped. Throws `BadOutputError` when the
 * answer is not a meme at all.
 */
export function parseMemeContent(content: string, provider: string, secrets: readonly string[] = []): GeneratedMeme {
  const json = extractObject(content);
  let value: unknown;
  try {
    if (json === null) throw new SyntaxError('no JSON object');
    value = JSON.parse(json);
  } catch {
    throw new BadOutputError(
      `${provider} answered with text that is not a JSON object (${describeContent(content, secrets)})`,
      provider,
    );
  }
  const parsed = modelMeme.safeParse(value);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((issue) => issue.path.join('.') || '(root)'))].join(', ');
    throw new BadOutputError(`${provider} answered with JSON of the wrong shape (bad: ${fields})`, provider);
  }
  const meme = parsed.data;
  const title = clipText(tidy(meme.title), OUTPUT_LIMITS.title);
  const topText = clipText(tidy(meme.topText), OUTPUT_LIMITS.caption);
  const bottomText = clipText(tidy(meme.bottomText), OUTPUT_LIMITS.caption);
  if (title.length === 0) throw new BadOutputError(`${provider} answered with an empty title`, provider);
  if (topText.length === 0 && bottomText.length === 0)
    throw new BadOutputError(`${provider} answered with no caption`, provider);
  const tags = [...new Set(meme.tags.map(normaliseTag).filter((tag): tag is string => tag !== null))].slice(
    0,
    OUTPUT_LIMITS.tags,
  );
  return { title, topText, bottomText, tags };
}

/** A short, redacted look at a bad answer, for the error message. */
function describeContent(content: string, secrets: readonly string[]): string {
  const text = tidy(content);
  if (text.length === 0) return 'empty';
  return `${Array.from(text).length} characters: "${redact(clipText(text, 60), secrets)}"`;
}
