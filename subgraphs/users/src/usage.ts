import { badUserInput, internalRoute, type Queryable, type Route } from '@memegraph/service-kit';

export interface UsageEntry {
  userId: string;
  /** YYYY-MM-DD, UTC. */
  day: string;
  requests: number;
  costPoints: number;
}

/** A router's batch of counts, applied at most once by its id; a router of an earlier version gives none. */
interface UsageBatch {
  id: string | null;
  entries: UsageEntry[];
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Entries of one request, all batches together: what a router sends at most at once. */
const MAX_USAGE_ENTRIES = 10_000;
/** How long a batch id is remembered: as long as a router keeps a batch it has not heard back on. */
const KEEP_BATCH_IDS = '7 days';

function parseEntry(raw: unknown): UsageEntry {
  const e = raw as Partial<UsageEntry> | null;
  if (
    typeof e?.userId !== 'string' ||
    !/^\d{1,18}$/.test(e.userId) ||
    typeof e.day !== 'string' ||
    !DAY.test(e.day) ||
    !Number.isSafeInteger(e.requests) ||
    !Number.isSafeInteger(e.costPoints) ||
    (e.requests as number) < 0 ||
    (e.costPoints as number) < 0
  ) {
    throw badUserInput('each entry needs userId, day (YYYY-MM-DD), requests and costPoints (whole numbers ≥ 0)');
  }
  return e as UsageEntry;
}

function parseBatches(body: unknown): UsageBatch[] {
  const { batches, entries } = (body ?? {}) as { batches?: unknown; entries?: unknown };
  // Routers of earlier versions send `{ entries }` without an id, applied each time as they expect,
  // until the last of them has stopped.
  if (batches === undefined && entries !== undefined) {
    if (!Array.isArray(entries) || entries.length > MAX_USAGE_ENTRIES)
      throw badUserInput(`entries must be an array of at most ${MAX_USAGE_ENTRIES} items`);
    return [{ id: null, entries: entries.map(parseEntry) }];
  }
  if (!Array.isArray(batches)) throw badUserInput('batches must be an array of { id, entries }');
  const ids = new Set<string>();
  let total = 0;
  return batches.map((raw) => {
    const { id, entries } = (raw ?? {}) as { id?: unknown; entries?: unknown };
    if (typeof id !== 'string' || !UUID.test(id)) throw badUserInput('each batch needs an id, a UUID');
    // One id twice in a request would count its entries twice.
    if (ids.has(id.toLowerCase())) throw badUserInput(`batch ${id} is given twice`);
    ids.add(id.toLowerCase());
    if (!Array.isArray(entries)) throw badUserInput('each batch needs entries, an array');
    total += entries.length;
    if (total > MAX_USAGE_ENTRIES) throw badUserInput(`at most ${MAX_USAGE_ENTRIES} entries in all batches together`);
    return { id, entries: entries.map(parseEntry) };
  });
}

/**
 * `POST /internal/usage { batches: [{ id, entries }] }`: the routers' metered
 * counts, added to the daily totals in one statement per request — never a
 * write per request made to the router. A router sends a batch again, with
 * its id, until it hears back, so the same statement records each id applied
 * and adds only the entries of ids not applied before: a batch whose answer
 * was lost counts once. Concurrent requests with one id wait on its row, and
 * the later adds nothing.
 */
export function usageRoute(db: Queryable): Route {
  return internalRoute('POST', /^\/internal\/usage$/, async ({ body }) => {
    const batches = parseBatches(body);
    if (batches.length === 0) return { applied: 0, alreadyApplied: 0 };
    const rows = batches.flatMap((b) => b.entries.map((e) => ({ ...e, batchId: b.id })));
    const ids = batches.flatMap((b) => (b.id === null ? [] : [b.id]));
    const [result] = await db.query<{ applied: number }>(
      `WITH fresh AS (
         INSERT INTO usage_batches (id) SELECT unnest($1::uuid[])
         ON CONFLICT (id) DO NOTHING
         RETURNING id
       ), forgotten AS (
         DELETE FROM usage_batches WHERE id IN (
           SELECT id FROM usage_batches WHERE applied_at < now() - $7::interval
           ORDER BY applied_at LIMIT 100 FOR UPDATE SKIP LOCKED)
       ), added AS (
         INSERT INTO usage_daily (user_id, day, requests, cost_points)
         SELECT u.user_id, u.day, sum(u.requests), sum(u.cost_points)
         FROM unnest($2::uuid[], $3::bigint[], $4::date[], $5::bigint[], $6::bigint[])
           AS u (batch_id, user_id, day, requests, cost_points)
         WHERE (u.batch_id IS NULL OR u.batch_id IN (SELECT id FROM fresh))
           AND EXISTS (SELECT 1 FROM users WHERE users.id = u.user_id)
         GROUP BY u.user_id, u.day
         ON CONFLICT (user_id, day) DO UPDATE
         SET requests = usage_daily.requests + EXCLUDED.requests,
             cost_points = usage_daily.cost_points + EXCLUDED.cost_points
       )
       SELECT count(*)::int AS applied FROM fresh`,
      [
        ids,
        rows.map((e) => e.batchId),
        rows.map((e) => e.userId),
        rows.map((e) => e.day),
        rows.map((e) => e.requests),
        rows.map((e) => e.costPoints),
        KEEP_BATCH_IDS,
      ],
    );
    const applied = (result?.applied ?? 0) + batches.length - ids.length;
    return { applied, alreadyApplied: batches.length - applied };
  });
}

/** The last `days` days, newest first, with zeros for days without use. */
export async function usageOf(db: Queryable, userId: string, days: number) {
  return db.query<{ day: string; requests: number; costPoints: number }>(
    `SELECT to_char(d.day, 'YYYY-MM-DD') AS day,
            COALESCE(u.requests, 0)::int AS "requests",
            COALESCE(u.cost_points, 0)::int AS "costPoints"
     FROM generate_series((now() AT TIME ZONE 'UTC')::date - ($2::int - 1), (now() AT TIME ZONE 'UTC')::date, interval '1 day') AS d (day)
     LEFT JOIN usage_daily u ON u.user_id = $1 AND u.day = d.day::date
     ORDER BY d.day DESC`,
    [userId, days],
  );
}
