import { badUserInput, parseId } from '@memegraph/service-kit';

export const LIMITS = {
  titleMax: 120,
  promptMax: 280,
  captionMax: 120,
  tagsMax: 10,
  tagMax: 32,
  searchMax: 200,
} as const;

/** A meme's content, checked and normalised, ready to store. */
export interface MemeInput {
  title: string;
  topText: string;
  bottomText: string;
  templateId: string;
  tags: string[];
}

const TAG = /^[a-z0-9-]+$/;
// Control characters cannot be drawn and are not even allowed in the SVG the meme becomes.
const CONTROL = /[\u0000-\u001F\u007F-\u009F]/;
const CONTROLS = new RegExp(CONTROL.source, 'g');

const chars = (text: string) => Array.from(text).length;

function text(value: unknown, field: string, min: number, max: number): string {
  if (typeof value !== 'string') throw badUserInput(`${field} must be a string`, { field });
  // Captions are drawn on one flowing block, so line breaks and runs of spaces mean nothing.
  const normalised = value.replace(/\s+/g, ' ').trim();
  if (CONTROL.test(normalised)) throw badUserInput(`${field} must not contain control characters`, { field });
  const length = chars(normalised);
  if (length < min || length > max) {
    throw badUserInput(
      min > 0 ? `${field} must be ${min} to ${max} characters long` : `${field} must be at most ${max} characters long`,
      {
        field,
      },
    );
  }
  return normalised;
}

/** Lower-cases and checks one tag; the same rule filters `memes(tag:)`. */
export function normaliseTag(value: unknown, field = 'tags'): string {
  if (typeof value !== 'string') throw badUserInput(`${field} must be strings`, { field });
  const tag = value.trim().toLowerCase();
  if (chars(tag) < 1 || chars(tag) > LIMITS.tagMax || !TAG.test(tag)) {
    throw badUserInput(`Tag "${tag.slice(0, 40)}" must be 1 to ${LIMITS.tagMax} characters of a-z, 0-9 and -`, {
      field,
    });
  }
  return tag;
}

function tags(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw badUserInput('tags must be a list of strings', { field: 'tags' });
  if (value.length > LIMITS.tagsMax) throw badUserInput(`A meme has at most ${LIMITS.tagsMax} tags`, { field: 'tags' });
  return [...new Set(value.map((tag) => normaliseTag(tag)))];
}

/** Checks a meme's content the same way for people (createMeme) and for the ai subgraph. */
export function validateMemeInput(input: Record<string, unknown>): MemeInput {
  if (typeof input.templateId !== 'string' && typeof input.templateId !== 'number') {
    throw badUserInput('templateId must be an id', { field: 'templateId' });
  }
  return {
    title: text(input.title, 'title', 1, LIMITS.titleMax),
    topText: text(input.topText, 'topText', 0, LIMITS.captionMax),
    bottomText: text(input.bottomText, 'bottomText', 0, LIMITS.captionMax),
    templateId: dbId(String(input.templateId), 'templateId'),
    tags: tags(input.tags),
  };
}

/** An `ID` argument as the canonical decimal string the database returns, so DataLoader keys match rows. */
export function dbId(id: string, what = 'id'): string {
  return BigInt(parseId(id, what)).toString();
}

/** Like `dbId`, for inputs that may be anything: null when it is not an id. */
export function maybeDbId(id: unknown): string | null {
  if (typeof id === 'number' && Number.isSafeInteger(id) && id >= 0) return String(id);
  if (typeof id !== 'string' || !/^\d{1,18}$/.test(id)) return null;
  return BigInt(id).toString();
}

export function searchText(value: string): string {
  const text = value.replace(/\s+/g, ' ').trim();
  if (!text) throw badUserInput('text must not be empty', { argumentName: 'text' });
  // PostgreSQL refuses NUL in text: without this check it would be a database error, not the client's.
  if (CONTROL.test(text)) throw badUserInput('text must not contain control characters', { argumentName: 'text' });
  if (chars(text) > LIMITS.searchMax)
    throw badUserInput(`text must be at most ${LIMITS.searchMax} characters long`, { argumentName: 'text' });
  return text;
}

/**
 * The prompt an AI meme was made from, as the ai subgraph hands it over. It was checked when the
 * generation was accepted; a job queued before that check must still finish, so what PostgreSQL
 * cannot store (NUL) or an SVG cannot draw is dropped here rather than refused.
 */
export function promptText(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  return (
    Array.from(value.replace(CONTROLS, '').replace(/\s+/g, ' ').trim()).slice(0, LIMITS.promptMax).join('') || null
  );
}
