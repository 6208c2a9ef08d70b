import {
  badUserInput,
  internalRoute,
  isSessionId,
  type Queryable,
  type Route,
  type Tier,
} from '@memegraph/service-kit';
import { hashApiKey } from './auth/apiKeys';

/** What the router needs to know about a credential's owner. */
export interface ResolvedViewer {
  userId: string;
  tier: Tier;
  isAdmin: boolean;
  apiKeyId?: string;
  sessionId?: string;
}

export type ViewerLookup =
  | { viewer: ResolvedViewer }
  /** `ended`: a session that was logged out, ended by a password change, or expired. */
  | { viewer: null; reason: 'unknown' | 'revoked' | 'ended' };

interface ViewerRow {
  user_id: string;
  is_admin: boolean;
  plan: Tier | null;
  key_id?: string;
  revoked_at?: Date | null;
  session_id?: string;
  session_live?: boolean;
}

const toViewer = (row: ViewerRow): ResolvedViewer => ({
  userId: row.user_id,
  tier: row.plan ?? 'free',
  isAdmin: row.is_admin,
  ...(row.key_id ? { apiKeyId: row.key_id } : {}),
  ...(row.session_id ? { sessionId: row.session_id } : {}),
});

/**
 * `POST /internal/viewer` with `{ apiKey }` or `{ sessionId, userId }`: the
 * router's only way to learn a credential's owner, tier and standing. Give
 * it the primary: a revocation must count at once, on every router.
 */
export function viewerRoute(db: Queryable): Route {
  return internalRoute('POST', /^\/internal\/viewer$/, async ({ body }): Promise<ViewerLookup> => {
    const input = (body ?? {}) as { apiKey?: unknown; userId?: unknown; sessionId?: unknown };
    if (typeof input.apiKey === 'string') {
      const [row] = await db.query<ViewerRow>(
        `SELECT k.id AS key_id, k.revoked_at, u.id AS user_id, u.is_admin, s.plan
         FROM api_keys k
         JOIN users u ON u.id = k.user_id
         LEFT JOIN subscriptions s ON s.user_id = u.id AND s.status = 'active'
         WHERE k.key_hash = $1`,
        [hashApiKey(input.apiKey)],
      );
      if (!row) return { viewer: null, reason: 'unknown' };
      if (row.revoked_at) return { viewer: null, reason: 'revoked' };
      // Record use at most once a minute per key, not one write per request.
      await db.query(
        `UPDATE api_keys SET last_used_at = now()
         WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`,
        [row.key_id],
      );
      return { viewer: toViewer(row) };
    }
    if (typeof input.userId === 'string' && /^\d{1,18}$/.test(input.userId) && isSessionId(input.sessionId)) {
      const [row] = await db.query<ViewerRow>(
        `SELECT ses.id AS session_id, ses.ended_at IS NULL AND ses.expires_at > now() AS session_live,
                u.id AS user_id, u.is_admin, s.plan
         FROM sessions ses
         JOIN users u ON u.id = ses.user_id
         LEFT JOIN subscriptions s ON s.user_id = u.id AND s.status = 'active'
         WHERE ses.id = $1 AND ses.user_id = $2`,
        [input.sessionId, input.userId],
      );
      if (!row) return { viewer: null, reason: 'unknown' };
      if (!row.session_live) return { viewer: null, reason: 'ended' };
      return { viewer: toViewer(row) };
    }
    // A user alone, as routers of the previous version ask for a session token's owner while
    // an upgrade rolls out (their tokens named no session). Remove once every router asks by session.
    if (typeof input.userId === 'string' && /^\d{1,18}$/.test(input.userId)) {
      const [row] = await db.query<ViewerRow>(
        `SELECT u.id AS user_id, u.is_admin, s.plan
         FROM users u LEFT JOIN subscriptions s ON s.user_id = u.id AND s.status = 'active'
         WHERE u.id = $1`,
        [input.userId],
      );
      return row ? { viewer: toViewer(row) } : { viewer: null, reason: 'unknown' };
    }
    throw badUserInput('Send apiKey, or sessionId and userId');
  });
}
