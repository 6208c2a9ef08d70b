import type { Queryable } from '@memegraph/service-kit';
import {
  AI_BOTTOM_CAPTIONS,
  AI_TOP_CAPTIONS,
  BOTTOM_CAPTIONS,
  TAGS,
  TEMPLATE_CATALOG,
  TITLE_SUBJECTS,
  TITLE_TWISTS,
  TOP_CAPTIONS,
  type CatalogTemplate,
} from './catalog';
import type { Shape, TemplateArt } from './images/render';

export interface SeedOptions {
  /** Authors are picked from user ids 1..users, the ids the users subgraph's seed makes. */
  users: number;
  memes: number;
  /** Default 12: the built-in catalog. More make recoloured variants of it. */
  templates?: number;
  /** The newest seeded meme's creation time; the others spread over the year before. Default: the start of today (UTC). */
  now?: Date;
}

export interface SeedResult {
  templates: number;
  memes: number;
  votes: number;
}

/** Every 20th seeded meme is an AI meme, so Memes AI viewers have some from the start. */
const AI_EVERY = 20;

/**
 * How many votes meme `i` gets: a handful for most, dozens for a lucky few,
 * as with real memes. Voters are users `1 + (i + k) % users` for k below
 * that count, which are distinct because the count never exceeds `users`.
 * Shared by the memes and votes statements so `score` is exactly the sum of votes.
 */
const VOTE_COUNT = `LEAST($2::int, floor(power(((i * 7919) % 1000) / 1000.0, 12) * 50)::int + (i % 3 = 0)::int)`;
const VOTE_VALUE = `CASE WHEN (i * 17 + k * 5) % 6 = 0 THEN -1 ELSE 1 END`;

/**
 * Makes templates, memes and votes: the same counts always give the same
 * rows (content, authors, scores; times are relative to `now`). Everything is
 * generated inside the database with `generate_series` and fixed arithmetic
 * over the fragment arrays, so 100,000 memes take seconds, on PostgreSQL and
 * on PGlite alike. Meant for an empty catalog: seeded memes take ids 1..memes.
 */
export async function seedMemes(db: Queryable, options: SeedOptions): Promise<SeedResult> {
  const templateCount = options.templates ?? TEMPLATE_CATALOG.length;
  for (const [name, value] of Object.entries({
    users: options.users,
    memes: options.memes,
    templates: templateCount,
  })) {
    if (!Number.isSafeInteger(value) || value < 0)
      throw new Error(`seedMemes: ${name} must be a whole number, not ${value}`);
  }
  if (options.memes > 0 && (options.users < 1 || templateCount < 1)) {
    throw new Error('seedMemes: memes need at least one user and one template');
  }
  const now = options.now ?? startOfTodayUtc();

  const templates = catalogTemplates(templateCount).map((t, i) => ({ id: i + 1, name: t.name, art: t.art }));
  await db.query(
    `INSERT INTO templates (id, name, art)
     SELECT (t->>'id')::bigint, t->>'name', t->'art' FROM jsonb_array_elements($1::jsonb) AS t
     ON CONFLICT (id) DO NOTHING`,
    [JSON.stringify(templates)],
  );

  if (options.memes > 0) {
    await db.query(
      `WITH src AS (
         SELECT $4::text[] AS subjects, cardinality($4::text[]) AS n_subjects,
                $5::text[] AS twists, cardinality($5::text[]) AS n_twists,
                $6::text[] AS tops, cardinality($6::text[]) AS n_tops,
                $7::text[] AS bottoms, cardinality($7::text[]) AS n_bottoms,
                $8::text[] AS ai_tops, cardinality($8::text[]) AS n_ai_tops,
                $9::text[] AS ai_bottoms, cardinality($9::text[]) AS n_ai_bottoms,
                $10::text[] AS tags, cardinality($10::text[]) AS n_tags
       )
       INSERT INTO memes (id, title, top_text, bottom_text, template_id, tags, author_id, score, origin, generation_id, created_at)
       SELECT i,
              subjects[1 + ((i * 7919) % n_subjects)::int] || ' ' || twists[1 + ((i * 104729) % n_twists)::int],
              CASE WHEN i % ${AI_EVERY} = 0 THEN ai_tops[1 + ((i * 31337) % n_ai_tops)::int]
                   ELSE tops[1 + ((i * 2654435761) % n_tops)::int] END,
              CASE WHEN i % ${AI_EVERY} = 0 THEN ai_bottoms[1 + ((i * 48271) % n_ai_bottoms)::int]
                   WHEN i % 17 = 0 THEN ''
                   ELSE bottoms[1 + ((i * 40503) % n_bottoms)::int] END,
              1 + (i * 7 + i / 13) % $3,
              ARRAY[tags[1 + ((i * 31) % n_tags)::int]]
                || CASE WHEN i % 3 >= 1 THEN ARRAY[tags[1 + ((i * 31 + 7) % n_tags)::int]] ELSE '{}'::text[] END
                || CASE WHEN i % 3 = 2 THEN ARRAY[tags[1 + ((i * 31 + 14) % n_tags)::int]] ELSE '{}'::text[] END,
              -- A few prolific authors and a long tail, deterministically.
              LEAST($2::bigint, 1 + floor($2 * power(((i * 48271) % 1000003) / 1000003.0, 1.5))::bigint),
              (SELECT COALESCE(sum(${VOTE_VALUE}), 0) FROM generate_series(0, ${VOTE_COUNT} - 1) AS k),
              CASE WHEN i % ${AI_EVERY} = 0 THEN 'AI' ELSE 'HUMAN' END,
              CASE WHEN i % ${AI_EVERY} = 0 THEN 'seed-' || i END,
              $11::timestamptz - interval '365 days' * (1 - i::float8 / $1)
         FROM generate_series(1::bigint, $1::bigint) AS i, src`,
      [
        options.memes,
        options.users,
        templateCount,
        TITLE_SUBJECTS,
        TITLE_TWISTS,
        TOP_CAPTIONS,
        BOTTOM_CAPTIONS,
        AI_TOP_CAPTIONS,
        AI_BOTTOM_CAPTIONS,
        TAGS,
        now.toISOString(),
      ],
    );
    await db.query(
      `INSERT INTO votes (meme_id, user_id, value, created_at)
       SELECT i, 1 + (i + k) % $2, ${VOTE_VALUE}, $3::timestamptz - interval '365 days' * (1 - i::float8 / $1)
         FROM generate_series(1::bigint, $1::bigint) AS i
        CROSS JOIN LATERAL generate_series(0, ${VOTE_COUNT} - 1) AS k`,
      [options.memes, options.users, now.toISOString()],
    );
  }

  // Rows above took explicit ids; the sequences must continue after them.
  await db.query(
    `SELECT setval(pg_get_serial_sequence('templates', 'id'), COALESCE(max(id), 0) + 1, false) FROM templates`,
  );
  await db.query(`SELECT setval(pg_get_serial_sequence('memes', 'id'), COALESCE(max(id), 0) + 1, false) FROM memes`);

  // Fresh statistics, so the first queries after a large seed already get good plans.
  await db.exec('ANALYZE templates; ANALYZE memes; ANALYZE votes');
  const [counts] = await db.query<{ votes: unknown }>('SELECT count(*) AS votes FROM votes WHERE meme_id <= $1', [
    options.memes,
  ]);
  return { templates: templateCount, memes: options.memes, votes: Number(counts?.votes ?? 0) };
}

function startOfTodayUtc(): Date {
  const today = new Date();
  return new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()));
}

/** The catalog, then recoloured variants of it (hue turned a little further each round) until there are `count`. */
export function catalogTemplates(count: number): CatalogTemplate[] {
  return Array.from({ length: count }, (_, k) => {
    const base = TEMPLATE_CATALOG[k % TEMPLATE_CATALOG.length]!;
    const round = Math.floor(k / TEMPLATE_CATALOG.length);
    if (round === 0) return base;
    return { name: `${base.name} ${round + 1}`, art: recolour(base.art, (round * 47) % 360) };
  });
}

function recolour(art: TemplateArt, degrees: number): TemplateArt {
  const turn = (colour: string | undefined) => (colour ? rotateHue(colour, degrees) : colour);
  return {
    background: { ...art.background, from: turn(art.background.from)!, to: turn(art.background.to)! },
    shapes: art.shapes.map((shape): Shape => ({ ...shape, fill: turn(shape.fill), stroke: turn(shape.stroke) })),
  };
}

/** Turns the hue of a `#rrggbb` colour; other forms are left as they are. */
export function rotateHue(colour: string, degrees: number): string {
  const match = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(colour);
  if (!match) return colour;
  const [r, g, b] = [match[1]!, match[2]!, match[3]!].map((h) => parseInt(h, 16) / 255) as [number, number, number];
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const l = (max + min) / 2;
  const d = max - min;
  if (d === 0) return colour;
  const s = d / (1 - Math.abs(2 * l - 1));
  let h = max === r ? ((g - b) / d) % 6 : max === g ? (b - r) / d + 2 : (r - g) / d + 4;
  h = (((h * 60 + degrees) % 360) + 360) % 360;
  const c = (1 - Math.abs(2 * l - 1)) * s;
  const x = c * (1 - Math.abs(((h / 60) % 2) - 1));
  const m = l - c / 2;
  const [r1, g1, b1] =
    h < 60
      ? [c, x, 0]
      : h < 120
        ? [x, c, 0]
        : h < 180
          ? [0, c, x]
          : h < 240
            ? [0, x, c]
            : h < 300
              ? [x, 0, c]
              : [c, 0, x];
  const hex = (v: number) =>
    Math.round((v + m) * 255)
      .toString(16)
      .padStart(2, '0');
  return `#${hex(r1)}${hex(g1)}${hex(b1)}`;
}
