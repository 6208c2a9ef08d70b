import { createHash } from 'node:crypto';
import type { GeneratedMeme, GenerationRequest, MemeProvider } from './provider';

const FALLBACK_PUNCHLINES = [
  'and it was glorious',
  'nobody expected that',
  'we do not talk about it',
  'ten out of ten would do again',
  'this is fine',
];

const MAX_CAPTION = 80;

/** Stable choice from a list, keyed by the prompt, so the same prompt gives the same meme. */
export function pick<T>(items: readonly T[], key: string): T {
  const digest = createHash('sha256').update(key).digest();
  return items[digest.readUInt32BE(0) % items.length]!;
}

const normalize = (text: string) => text.replace(/\s+/g, ' ').trim();

function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max + 1);
  const space = cut.lastIndexOf(' ');
  return (space > max / 2 ? cut.slice(0, space) : text.slice(0, max)).trimEnd();
}

function keywords(prompt: string): string[] {
  const words = prompt.toLowerCase().match(/[a-z0-9]+/g) ?? [];
  return [...new Set(words.filter((w) => w.length > 3))].slice(0, 3);
}

/**
 * The built-in, offline provider: the prompt sets up the joke on top and a
 * punchline chosen from the template's own catalog captions lands it below.
 * Deterministic, so tests and demos see the same meme for the same prompt.
 */
export class LocalProvider implements MemeProvider {
  readonly name = 'local';

  async generate(request: GenerationRequest): Promise<GeneratedMeme> {
    const prompt = normalize(request.prompt);
    const setup = clip(prompt.replace(/[.!?]+$/, ''), MAX_CAPTION);
    const punchlines = request.captions.map((c) => normalize(c.bottomText)).filter((t) => t.length > 0);
    const punchline = clip(
      pick(punchlines.length > 0 ? punchlines : FALLBACK_PUNCHLINES, `${request.template.id}:${prompt}`),
      MAX_CAPTION,
    );
    return {
      title: clip(`${request.template.name}: ${setup}`, 120),
      topText: setup,
      bottomText: punchline,
      tags: ['ai', ...keywords(prompt)],
    };
  }
}
