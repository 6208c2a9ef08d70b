import type { Row } from '@memegraph/service-kit';

export type MemeOrigin = 'HUMAN' | 'AI';

/** A meme as the resolvers see it: one row of `memes`, without the search vector. */
export interface MemeRow {
  id: string;
  title: string;
  top_text: string;
  bottom_text: string;
  template_id: string;
  tags: string[];
  author_id: string;
  score: number;
  origin: MemeOrigin;
  created_at: Date;
  prompt: string | null;
  /** The template's name, where the statement read it along (see `memeWithTemplateColumns`). */
  template_name?: string;
}

/** A template as GraphQL answers it: everything but the art, which only images draw. */
export interface TemplateInfo {
  id: string;
  name: string;
}

export interface TemplateRow extends TemplateInfo {
  /** Unchecked JSON; `parseArt` makes it safe to draw. */
  art: unknown;
}

/** The columns of a `MemeRow`, for a query where the table is aliased `alias`. */
export const memeColumns = (alias: string) =>
  [
    'id',
    'title',
    'top_text',
    'bottom_text',
    'template_id',
    'tags',
    'author_id',
    'score',
    'origin',
    'created_at',
    'prompt',
  ]
    .map((c) => `${alias}.${c}`)
    .join(', ');

/**
 * A `MemeRow`'s columns and its template's name, read in the same
 * statement: a meme list asked with its templates then costs one round
 * trip instead of two (`Meme.template` answers from these without the loader).
 */
export const memeWithTemplateColumns = (alias: string) =>
  `${memeColumns(alias)}, (SELECT t.name FROM templates t WHERE t.id = ${alias}.template_id) AS template_name`;

// Both database back ends are normalised here: bigint ids may arrive as
// strings (pg) or numbers (PGlite in memory), timestamps as Date or text.
const id = (value: unknown) => String(value);

export function toMemeRow(row: Row): MemeRow {
  return {
    id: id(row.id),
    title: String(row.title),
    top_text: String(row.top_text),
    bottom_text: String(row.bottom_text),
    template_id: id(row.template_id),
    tags: Array.isArray(row.tags) ? row.tags.map(String) : [],
    author_id: id(row.author_id),
    score: Number(row.score),
    origin: row.origin === 'AI' ? 'AI' : 'HUMAN',
    created_at: row.created_at instanceof Date ? row.created_at : new Date(String(row.created_at)),
    prompt: typeof row.prompt === 'string' ? row.prompt : null,
    // Always set (undefined when not read), so every row has one shape.
    template_name: typeof row.template_name === 'string' ? row.template_name : undefined,
  };
}

/** A jsonb value: parsed by both drivers, but tolerate text in case a column or cast hands back a string. */
export const jsonValue = (value: unknown): unknown => (typeof value === 'string' ? JSON.parse(value) : value);

export function toTemplateRow(row: Row): TemplateRow {
  return { id: id(row.id), name: String(row.name), art: jsonValue(row.art) };
}

export function toTemplateInfo(row: Row): TemplateInfo {
  return { id: id(row.id), name: String(row.name) };
}
