import type { Db, Queryable, Row } from '@memegraph/service-kit';
import {
  jsonValue,
  memeColumns,
  memeWithTemplateColumns,
  toMemeRow,
  toTemplateInfo,
  toTemplateRow,
  type MemeOrigin,
  type MemeRow,
  type TemplateInfo,
  type TemplateRow,
} from './rows';
import type { MemeInput } from './validation';
import { visibleSql } from './visibility';

/**
 * Every SQL statement of the memes subgraph. Functions that list memes take
 * `seeAi` and filter in SQL, so an invisible meme never leaves the database.
 */

const M = memeColumns('m');
/** For the lists GraphQL reads: the template's name along (MemeRow.template_name). */
const MT = memeWithTemplateColumns('m');
/** Larger than any bigserial id: an "after" bound that lets everything through while staying an index condition. */
const NO_BOUND = '9223372036854775807';

export async function memesByIds(db: Queryable, ids: readonly string[], seeAi: boolean): Promise<MemeRow[]> {
  const rows = await db.query(`SELECT ${MT} FROM memes m WHERE m.id = ANY($1::bigint[]) AND ${visibleSql(seeAi)}`, [
    ids,
  ]);
  return rows.map(toMemeRow);
}

export async function templatesByIds(db: Queryable, ids: readonly string[]): Promise<TemplateRow[]> {
  const rows = await db.query('SELECT id, name, art FROM templates WHERE id = ANY($1::bigint[])', [ids]);
  return rows.map(toTemplateRow);
}

/**
 * Templates without their art: what GraphQL answers. The art (jsonb, parsed
 * by the driver for every row) is read only where an image is drawn.
 */
export async function templateInfoByIds(db: Queryable, ids: readonly string[]): Promise<TemplateInfo[]> {
  const rows = await db.query('SELECT id, name FROM templates WHERE id = ANY($1::bigint[])', [ids]);
  return rows.map(toTemplateInfo);
}

export async function allTemplates(db: Queryable): Promise<TemplateInfo[]> {
  return (await db.query('SELECT id, name FROM templates ORDER BY id')).map(toTemplateInfo);
}

/** Newest first, after `afterId`; `limit` rows at most (callers ask one more than a page to learn whether another follows). */
export async function newestMemes(
  db: Queryable,
  options: { limit: number; afterId: string | null; tag: string | null; seeAi: boolean },
): Promise<MemeRow[]> {
  const params: unknown[] = [options.afterId ?? NO_BOUND, options.limit];
  let tagCondition = '';
  if (options.tag !== null) {
    params.push([options.tag]);
    tagCondition = `AND m.tags @> $${params.length}::text[]`;
  }
  const rows = await db.query(
    `SELECT ${MT} FROM memes m
      WHERE m.id < $1::bigint AND ${visibleSql(options.seeAi)} ${tagCondition}
      ORDER BY m.id DESC LIMIT $2`,
    params,
  );
  return rows.map(toMemeRow);
}

export async function trendingMemes(db: Queryable, limit: number, seeAi: boolean): Promise<MemeRow[]> {
  const rows = await db.query(
    `SELECT ${MT} FROM memes m WHERE ${visibleSql(seeAi)} ORDER BY m.score DESC, m.id DESC LIMIT $1`,
    [limit],
  );
  return rows.map(toMemeRow);
}

/** Full-text search, best match first; web-search syntax ("quoted phrases", -exclusions, or). */
export async function searchMemes(db: Queryable, text: string, limit: number, seeAi: boolean): Promise<MemeRow[]> {
  const rows = await db.query(
    `SELECT ${MT} FROM memes m, websearch_to_tsquery('english', $1) AS q
      WHERE m.search @@ q AND ${visibleSql(seeAi)}
      ORDER BY ts_rank_cd(m.search, q) DESC, m.id DESC LIMIT $2`,
    [text, limit],
  );
  return rows.map(toMemeRow);
}

/**
 * One meme at random in two index probes: a random point between the lowest
 * and highest id, then the first visible meme at or after it (wrapping round
 * to the last one before it). Gaps in ids make it slightly uneven, which a
 * random meme can afford; sorting the whole table by random() could not.
 */
export async function randomMeme(db: Queryable, seeAi: boolean): Promise<MemeRow | null> {
  const rows = await db.query(
    `WITH pick AS (
       SELECT lo + floor(random() * (hi - lo + 1))::bigint AS at
         FROM (SELECT min(id) AS lo, max(id) AS hi FROM memes) AS bounds
     )
     (SELECT ${M} FROM memes m, pick WHERE m.id >= pick.at AND ${visibleSql(seeAi)} ORDER BY m.id LIMIT 1)
     UNION ALL
     (SELECT ${M} FROM memes m, pick WHERE m.id < pick.at AND ${visibleSql(seeAi)} ORDER BY m.id DESC LIMIT 1)
     LIMIT 1`,
  );
  return rows[0] ? toMemeRow(rows[0]) : null;
}

export interface AuthorPage {
  authorId: string;
  limit: number;
  afterId: string | null;
}

/**
 * Pages of several authors' memes in one statement: each requested page is
 * a row of the unnested arrays, and a lateral index scan per row reads just
 * that author's next `limit` memes, however many they have in all.
 */
export async function memesByAuthors(
  db: Queryable,
  pages: readonly AuthorPage[],
  seeAi: boolean,
): Promise<MemeRow[][]> {
  const rows = await db.query<Row & { k: unknown }>(
    `SELECT r.k, ${MT}
       FROM unnest($1::bigint[], $2::int[], $3::bigint[]) WITH ORDINALITY AS r(author_id, lim, after_id, k)
       CROSS JOIN LATERAL (
         SELECT ${M} FROM memes m
          WHERE m.author_id = r.author_id AND m.id < COALESCE(r.after_id, ${NO_BOUND}) AND ${visibleSql(seeAi)}
          ORDER BY m.id DESC LIMIT r.lim
       ) AS m
      ORDER BY r.k, m.id DESC`,
    [pages.map((p) => p.authorId), pages.map((p) => p.limit), pages.map((p) => p.afterId)],
  );
  const result: MemeRow[][] = pages.map(() => []);
  for (const row of rows) result[Number(row.k) - 1]?.push(toMemeRow(row));
  return result;
}

export async function votesOf(db: Queryable, userId: string, memeIds: readonly string[]): Promise<Map<string, number>> {
  const rows = await db.query<{ meme_id: unknown; value: unknown }>(
    'SELECT meme_id, value FROM votes WHERE user_id = $1 AND meme_id = ANY($2::bigint[])',
    [userId, memeIds],
  );
  return new Map(rows.map((r) => [String(r.meme_id), Number(r.value)]));
}

/**
 * Stores a meme; null when its template does not exist, or, for an AI meme,
 * when a meme with the same generation id already exists.
 */
export async function insertMeme(
  db: Queryable,
  input: MemeInput & { authorId: string; origin: MemeOrigin; generationId: string | null; prompt?: string | null },
): Promise<MemeRow | null> {
  const rows = await db.query(
    `INSERT INTO memes AS m (title, top_text, bottom_text, template_id, tags, author_id, origin, generation_id, prompt)
     SELECT $1, $2, $3, t.id, $5::text[], $6, $7, $8, $9 FROM templates t WHERE t.id = $4
     ON CONFLICT (generation_id) DO NOTHING
     RETURNING ${M}`,
    [
      input.title,
      input.topText,
      input.bottomText,
      input.templateId,
      input.tags,
      input.authorId,
      input.origin,
      input.generationId,
      input.prompt ?? null,
    ],
  );
  return rows[0] ? toMemeRow(rows[0]) : null;
}

export async function memeByGenerationId(db: Queryable, generationId: string): Promise<MemeRow | null> {
  const rows = await db.query(`SELECT ${M} FROM memes m WHERE m.generation_id = $1`, [generationId]);
  return rows[0] ? toMemeRow(rows[0]) : null;
}

/**
 * Records a viewer's vote (-1 or 1; 0 takes it back) and returns the meme
 * with its new score, or null when the meme does not exist for this viewer.
 */
export async function castVote(
  db: Db,
  vote: { memeId: string; userId: string; value: -1 | 0 | 1; seeAi: boolean },
): Promise<MemeRow | null> {
  return db.transaction(async (tx) => {
    // The row lock queues every vote on this meme behind this one, so the
    // previous vote read next is current and `score` stays the sum of votes.
    const [locked] = await tx.query(`SELECT ${M} FROM memes m WHERE m.id = $1 FOR UPDATE`, [vote.memeId]);
    if (!locked) return null;
    const meme = toMemeRow(locked);
    if (!vote.seeAi && meme.origin !== 'HUMAN') return null;
    const [previous] = await tx.query<{ value: unknown }>(
      'SELECT value FROM votes WHERE meme_id = $1 AND user_id = $2',
      [vote.memeId, vote.userId],
    );
    const delta = vote.value - (previous ? Number(previous.value) : 0);
    if (delta === 0) return meme;
    if (vote.value === 0) {
      await tx.query('DELETE FROM votes WHERE meme_id = $1 AND user_id = $2', [vote.memeId, vote.userId]);
    } else {
      await tx.query(
        `INSERT INTO votes (meme_id, user_id, value) VALUES ($1, $2, $3)
         ON CONFLICT (meme_id, user_id) DO UPDATE SET value = EXCLUDED.value, created_at = now()`,
        [vote.memeId, vote.userId, vote.value],
      );
    }
    const [updated] = await tx.query(`UPDATE memes AS m SET score = m.score + $2 WHERE m.id = $1 RETURNING ${M}`, [
      vote.memeId,
      delta,
    ]);
    return updated ? toMemeRow(updated) : null;
  });
}

/** A template's best human captions, for the ai subgraph's offline provider to learn from. */
export async function bestCaptions(
  db: Queryable,
  templateId: string,
  limit: number,
): Promise<{ topText: string; bottomText: string }[]> {
  const rows = await db.query<{ top_text: string; bottom_text: string }>(
    `SELECT m.top_text, m.bottom_text FROM memes m
      WHERE m.template_id = $1 AND m.origin = 'HUMAN'
      ORDER BY m.score DESC, m.id DESC LIMIT $2`,
    [templateId, limit],
  );
  return rows.map((r) => ({ topText: r.top_text, bottomText: r.bottom_text }));
}

/** The meme and its template's art for the image route, visibility left to the caller (it checks the signature). */
export async function memeWithArt(db: Queryable, id: string): Promise<(MemeRow & { art: unknown }) | null> {
  const [row] = await db.query(
    `SELECT ${M}, t.art FROM memes m JOIN templates t ON t.id = m.template_id WHERE m.id = $1`,
    [id],
  );
  return row ? { ...toMemeRow(row), art: jsonValue(row.art) } : null;
}
