import { badUserInput, internalRoute, type Queryable, type Route } from '@memegraph/service-kit';

export interface UsageEntry {
  userId: string;
  /** YYYY-MM-DD, UTC. */
  day: string;
  requests: number;
  costPoints: number;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

function parseEntries(body: unknown): UsageEntry[] {
  const entries = (body as { entries?: unknown } | null)?.entries;
  if (!Array.isArray(entries) || entries.length > 10_000)
    throw badUserInput('entries must be an array of at most 10000 items');
  return entries.map((raw) => {
    const e = raw as Partial<UsageEntry>;
    if (
      typeof e.userId !== 'string' ||
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
  });
}

/**
 * `POST /internal/usage { entries }`: the routers' metered counts, added to
 * the daily totals in one statement per batch — never a write per request.
 */
export function usageRoute(db: Queryable): Route {
  return internalRoute('POST', /^\/internal\/usage$/, async ({ body }) => {
    const entries = parseEntries(body);
    if (entries.length === 0) return { recorded: 0 };
    await db.query(
      `INSERT INTO usage_daily (user_id, day, requests, cost_points)
       SELECT u.user_id, u.day, sum(u.requests), sum(u.cost_points)
       FROM unnest($1::bigint[], $2::date[], $3::bigint[], $4::bigint[]) AS u (user_id, day, requests, cost_points)
       WHERE EXISTS (SELECT 1 FROM users WHERE users.id = u.user_id)
       GROUP BY u.user_id, u.day
       ON CONFLICT (user_id, day) DO UPDATE
       SET requests = usage_daily.requests + EXCLUDED.requests,
           cost_points = usage_daily.cost_points + EXCLUDED.cost_points`,
      [
        entries.map((e) => e.userId),
        entries.map((e) => e.day),
        entries.map((e) => e.requests),
        entries.map((e) => e.costPoints),
      ],
    );
    return { recorded: entries.length };
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
