import { randomUUID } from 'node:crypto';
import {
  badUserInput,
  parseId,
  signSessionToken,
  unauthenticated,
  viewerUserId,
  withDbViewer,
  type Viewer,
} from '@memegraph/service-kit';
import { generateApiKey } from '../auth/apiKeys';
import { passwordProblem } from '../auth/passwordPolicy';
import { DUMMY_HASH, hashPassword, verifyPassword } from '../auth/passwords';
import type { UsersContext } from '../context';
import { API_KEY_COLUMNS, USER_COLUMNS, type ApiKeyRow, type UserRow } from '../rows';

const HANDLE = /^[A-Za-z0-9_]{3,30}$/;
/** API keys a user holds at once, not revoked: what `User.apiKeys` lists, and the size its cost estimate assumes. */
const MAX_API_KEYS = 20;

function requireUser(context: UsersContext): string {
  const userId = viewerUserId(context.viewer);
  if (!userId) throw unauthenticated();
  return userId;
}

/** Refuses a password the policy does not allow, naming the argument it came in. */
function checkPassword(password: string, handle: string, argumentName: string) {
  const problem = passwordProblem(password, handle);
  if (problem) throw badUserInput(problem, { argumentName });
}

/**
 * Starts a session: its row, then a token naming it. The user's expired
 * sessions go in the same statement, so the table holds live and recently
 * ended sessions only. Written as the user's own, so their first requests
 * read it (and the account) even from read replicas.
 */
async function session(user: UserRow, context: UsersContext) {
  const sessionId = randomUUID();
  const expiresAt = new Date(Date.now() + context.config.sessionTtlSeconds * 1000);
  await withDbViewer(user.id, () =>
    context.db.query(
      `WITH expired AS (DELETE FROM sessions WHERE user_id = $2 AND expires_at < now())
     INSERT INTO sessions (id, user_id, expires_at) VALUES ($1, $2, $3)`,
      [sessionId, user.id, expiresAt],
    ),
  );
  const token = await signSessionToken({ userId: user.id, sessionId, expiresAt }, context.config.jwtSecret);
  return { token, expiresAt, user };
}

/** Where a log-in comes from, for throttling: the anonymous viewer's address, or the signed-in user. */
const clientOf = (viewer: Viewer): string | null =>
  viewer.kind === 'anonymous' ? (viewer.clientIp ?? null) : viewer.kind === 'user' ? `user:${viewer.userId}` : null;

/** The session a request was made with; none for an API key. */
const sessionOf = (context: UsersContext): string | undefined =>
  context.viewer.kind === 'user' ? context.viewer.sessionId : undefined;

const isUniqueViolation = (error: unknown) => (error as { code?: string }).code === '23505';

export const Mutation = {
  async signUp(
    _root: unknown,
    args: { handle: string; password: string; displayName?: string | null },
    context: UsersContext,
  ) {
    if (!HANDLE.test(args.handle)) {
      throw badUserInput('handle must be 3 to 30 letters, digits or underscores', { argumentName: 'handle' });
    }
    checkPassword(args.password, args.handle, 'password');
    const displayName = (args.displayName ?? args.handle).trim();
    if (displayName.length < 1 || displayName.length > 60) {
      throw badUserInput('displayName must be 1 to 60 characters', { argumentName: 'displayName' });
    }
    const passwordHash = await hashPassword(args.password);
    try {
      const [user] = await context.db.query<UserRow>(
        `INSERT INTO users (handle, display_name, password_hash) VALUES ($1, $2, $3) RETURNING ${USER_COLUMNS}`,
        [args.handle, displayName, passwordHash],
      );
      return session(user!, context);
    } catch (error) {
      if (isUniqueViolation(error)) throw badUserInput('handle is taken', { argumentName: 'handle' });
      throw error;
    }
  },

  async logIn(_root: unknown, args: { handle: string; password: string }, context: UsersContext) {
    // Throttled per handle whether or not it exists, and per address: both answers are the same for any handle.
    const user = await context.loginThrottle.attempt(args.handle, clientOf(context.viewer), async () => {
      // From the primary: an account made a moment ago can log in.
      const [row] = await context.db.primary.query<UserRow & { password_hash: string }>(
        `SELECT ${USER_COLUMNS}, password_hash FROM users WHERE lower(handle) = lower($1)`,
        [args.handle],
      );
      // Always run the KDF (with the same parameters), so an unknown handle cannot be told apart by timing.
      const ok = await verifyPassword(args.password, row?.password_hash ?? DUMMY_HASH);
      if (!row || !ok) return undefined;
      const { password_hash: _hash, ...user } = row;
      return user;
    });
    if (!user) throw unauthenticated('Wrong handle or password');
    return session(user, context);
  },

  async logOut(_root: unknown, _args: unknown, context: UsersContext) {
    const userId = requireUser(context);
    const sessionId = sessionOf(context);
    if (!sessionId)
      throw badUserInput(
        'logOut ends a session, and this request was made with an API key: revoke a key with revokeApiKey',
      );
    const ended = await context.db.query(
      `UPDATE sessions SET ended_at = now() WHERE id = $1 AND user_id = $2 AND ended_at IS NULL RETURNING id`,
      [sessionId, userId],
    );
    return ended.length > 0;
  },

  async logOutEverywhere(_root: unknown, _args: unknown, context: UsersContext) {
    const userId = requireUser(context);
    const ended = await context.db.query(
      `UPDATE sessions SET ended_at = now() WHERE user_id = $1 AND ended_at IS NULL AND expires_at > now() RETURNING id`,
      [userId],
    );
    return ended.length;
  },

  async changePassword(_root: unknown, args: { current: string; next: string }, context: UsersContext) {
    const userId = requireUser(context);
    const [row] = await context.db.query<UserRow & { password_hash: string }>(
      `SELECT ${USER_COLUMNS}, password_hash FROM users WHERE id = $1`,
      [userId],
    );
    if (!row) throw unauthenticated();
    if (!(await verifyPassword(args.current, row.password_hash))) {
      throw badUserInput('The current password is wrong', { argumentName: 'current' });
    }
    checkPassword(args.next, row.handle, 'next');
    const passwordHash = await hashPassword(args.next);
    const ended = await context.db.transaction(async (tx) => {
      await tx.query('UPDATE users SET password_hash = $2 WHERE id = $1', [userId, passwordHash]);
      // Whoever else holds a session may hold the old password: only the session making the change goes on.
      return tx.query(
        `UPDATE sessions SET ended_at = now()
         WHERE user_id = $1 AND ended_at IS NULL AND expires_at > now() AND id IS DISTINCT FROM $2::uuid RETURNING id`,
        [userId, sessionOf(context) ?? null],
      );
    });
    const { password_hash: _hash, ...user } = row;
    return { endedSessions: ended.length, user };
  },

  async subscribe(_root: unknown, args: { plan: string }, context: UsersContext) {
    const userId = requireUser(context);
    const plan = args.plan.toLowerCase();
    if (plan !== 'premium' && plan !== 'enterprise') {
      throw badUserInput('plan must be PREMIUM or ENTERPRISE; use cancelSubscription to go back to FREE', {
        argumentName: 'plan',
      });
    }
    const current = await context.loaders.activeSubscriptionByUserId.load(userId);
    if (current?.plan === plan) throw badUserInput(`The viewer is on ${args.plan} already`, { argumentName: 'plan' });
    // The plan changes when the payment provider confirms the payment (Billing.receive).
    return context.billing.startCheckout(userId, plan);
  },

  async cancelSubscription(_root: unknown, _args: unknown, context: UsersContext) {
    return context.billing.cancel(requireUser(context));
  },

  async createApiKey(_root: unknown, args: { name: string }, context: UsersContext) {
    const userId = requireUser(context);
    const name = args.name.trim();
    if (name.length < 1 || name.length > 60)
      throw badUserInput('name must be 1 to 60 characters', { argumentName: 'name' });
    const key = generateApiKey();
    const apiKey = await context.db.transaction(async (tx) => {
      // The user's row is held until the key is written, so two creates at once cannot both pass the count.
      await tx.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [userId]);
      const [held] = await tx.query<{ count: number }>(
        'SELECT count(*)::int AS count FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL',
        [userId],
      );
      if (held!.count >= MAX_API_KEYS)
        throw badUserInput(`A user holds at most ${MAX_API_KEYS} API keys at once: revoke one (revokeApiKey) first`);
      const [row] = await tx.query<ApiKeyRow>(
        `INSERT INTO api_keys (user_id, name, prefix, key_hash) VALUES ($1, $2, $3, $4) RETURNING ${API_KEY_COLUMNS}`,
        [userId, name, key.prefix, key.hash],
      );
      return row!;
    });
    return { apiKey, secret: key.secret };
  },

  async revokeApiKey(_root: unknown, args: { id: string }, context: UsersContext) {
    const userId = requireUser(context);
    const id = parseId(args.id);
    const [apiKey] = await context.db.query<ApiKeyRow>(
      `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now())
       WHERE id = $1 AND user_id = $2 RETURNING ${API_KEY_COLUMNS}`,
      [id, userId],
    );
    if (!apiKey) throw badUserInput('No such API key', { argumentName: 'id' });
    return apiKey;
  },
};
