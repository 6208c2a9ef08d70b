import { randomUUID } from 'node:crypto';
import { secretKey, signSessionToken, type Tier } from '@memegraph/service-kit';
import type { Bench } from './bench';
import type { Platform } from './platform';
import { serverFile, startProcess } from './process';

/** A signed-in user the load generator sends requests as. */
export interface BenchViewer {
  userId: string;
  tier: Tier;
  /** `Bearer <session token>`, for the `authorization` header. */
  authorization: string;
}

/** Long enough for any run. */
const SESSION_SECONDS = 3_600;

/**
 * Every seeded user with their tier as the users subgraph stores it (the
 * active subscription's plan, else free), each with a session token. The
 * session row is written and the token minted with the run's JWT secret,
 * exactly as `logIn` does:
 * `logIn` itself (scrypt, 10 a minute per client) is not what a scenario
 * measures. The router verifies these tokens and looks the users up as it
 * would for any client.
 */
export async function seededViewers(platform: Platform): Promise<BenchViewer[]> {
  const rows = await platform.sql.query<{ id: string; plan: Tier | null }>(
    `SELECT u.id::text AS id, s.plan FROM users.users u
     LEFT JOIN users.subscriptions s ON s.user_id = u.id AND s.status = 'active'
     ORDER BY u.id`,
  );
  const key = secretKey(platform.secrets.jwt);
  const expiresAt = new Date(Date.now() + SESSION_SECONDS * 1000);
  const sessions = rows.map((row) => ({ userId: row.id, sessionId: randomUUID(), expiresAt }));
  await platform.sql.query(
    `INSERT INTO users.sessions (id, user_id, expires_at) SELECT unnest($1::uuid[]), unnest($2::bigint[]), $3`,
    [sessions.map((s) => s.sessionId), sessions.map((s) => s.userId), expiresAt],
  );
  return Promise.all(
    rows.map(async (row, i) => ({
      userId: row.id,
      tier: row.plan ?? 'free',
      authorization: `Bearer ${await signSessionToken(sessions[i]!, key)}`,
    })),
  );
}

/** `BENCH_USER_TIERS_JSON` for the baseline gateway: the tier of each viewer it will see. */
export const userTiersJson = (viewers: readonly BenchViewer[]) =>
  JSON.stringify(Object.fromEntries(viewers.map((v) => [v.userId, v.tier])));

/** A plan a viewer can be put on (`free`: the subscription cancelled). */
type Plan = 'premium' | 'enterprise' | 'free';

/**
 * Puts each viewer on the plan `planOf` names, as a client would:
 * `subscribe` or `cancelSubscription` through one router started for this,
 * on the platform, which drops each user's cached viewer on every router and
 * in Redis. Returns the viewers, in order, with their new tier.
 */
export async function changePlans(
  bench: Bench,
  viewers: readonly BenchViewer[],
  planOf: (index: number) => Plan,
): Promise<BenchViewer[]> {
  const router = await startProcess('accounts-router', serverFile('router'), bench.routerEnv());
  try {
    const changed: BenchViewer[] = [];
    for (const [index, viewer] of viewers.entries()) {
      const plan = planOf(index);
      const query =
        plan === 'free'
          ? 'mutation { cancelSubscription { status } }'
          : `mutation { subscribe(plan: ${plan.toUpperCase()}) { status } }`;
      const response = await fetch(router.info.url!, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: viewer.authorization },
        body: JSON.stringify({ query }),
        signal: AbortSignal.timeout(30_000),
      });
      const body = (await response.json()) as { errors?: unknown };
      if (!response.ok || body.errors)
        throw new Error(`${query} for user ${viewer.userId} failed: ${JSON.stringify(body).slice(0, 300)}`);
      changed.push({ ...viewer, tier: plan });
    }
    return changed;
  } finally {
    await router.stop();
  }
}
