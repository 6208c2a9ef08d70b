import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { LRUCache } from 'lru-cache';
import {
  ErrorCode,
  HttpError,
  REQUEST_ID_HEADER,
  Scope,
  SessionTokenExpired,
  anonymousViewer,
  secretKey,
  verifySessionToken,
  type InternalClient,
  type SessionClaims,
  type TierTable,
  type Viewer,
} from '@memegraph/service-kit';
import type { RefusalReason, ViewerCache } from './cache';
import type { CredentialThrottle } from './throttle';

/** The users subgraph's answer about a credential. */
type ViewerLookup =
  | { viewer: { userId: string; tier: Viewer['tier']; isAdmin: boolean; apiKeyId?: string; sessionId?: string } }
  | { viewer: null; reason: RefusalReason };

const REASONS: Record<RefusalReason, string> = {
  unknown: 'The credential does not belong to any account',
  revoked: 'The API key has been revoked',
  ended: 'The session has ended: log in again',
};

const unauthenticated = (message: string) => new HttpError(401, ErrorCode.UNAUTHENTICATED, message);
const tooManyFailures = (retryAfterMs: number) =>
  new HttpError(429, ErrorCode.RATE_LIMIT_EXCEEDED, 'Too many invalid credentials from this address', {
    'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))),
  });

/**
 * Works out who is asking: a user by JWT (`Authorization: Bearer`) or API
 * key (`x-api-key`), or anonymous when neither is sent. A credential that is
 * sent but bad is refused, never silently downgraded to anonymous.
 */
export function createViewerIdentifier(options: {
  jwtSecret: string;
  tiers: TierTable;
  call: InternalClient;
  viewerUrl: URL;
  cache: ViewerCache;
  /** Failed credentials per client address: checked before any lookup. */
  throttle: CredentialThrottle;
  /** Where a request came from: anonymous viewers are keyed by it. */
  addressOf: (req: IncomingMessage) => string;
  now?: () => number;
}) {
  const jwtKey = secretKey(options.jwtSecret);
  const now = options.now ?? Date.now;

  /**
   * Session tokens whose signature and claims were checked, by their SHA-256, each until it expires: a
   * signed-in viewer's requests do not each pay for jose's verification (WebCrypto's HMAC behind promises,
   * 16% of the router's CPU under mixed-read-write). Whether the session is still open is asked as before.
   */
  const verified = new LRUCache<string, SessionClaims & { expiresAt: Date }>({ max: 10_000 });
  const verify = async (token: string): Promise<SessionClaims> => {
    const key = createHash('sha256').update(token).digest('base64url');
    const known = verified.get(key);
    if (known && known.expiresAt.getTime() > now()) return known;
    verified.delete(key);
    const session = await verifySessionToken(token, jwtKey, new Date(now()));
    verified.set(key, session);
    return session;
  };

  /** Counts a failed credential against its address; past the allowance the answer is 429, not 401. */
  const refuse = async (address: string, message: string): Promise<never> => {
    const attempt = await options.throttle.begin(address);
    throw attempt.allowed ? unauthenticated(message) : tooManyFailures(attempt.retryAfterMs);
  };

  /**
   * A credential's viewer: from the cache, or else, if the address has not
   * sent too many bad credentials and this one was not refused lately, from
   * the users subgraph. The attempt counts as a failure until it proves good,
   * so a burst of concurrent guesses cannot pass the allowance either.
   */
  const resolve = async (
    credential: string,
    body: { apiKey: string } | { userId: string; sessionId: string },
    address: string,
    requestId: string | undefined,
  ): Promise<Viewer> => {
    // A session token's signature was checked here already: it was issued by us, not guessed, so it
    // does not count against the address (a burst of a real user's requests must not be refused).
    const guessable = 'apiKey' in body;
    if (guessable) {
      const attempt = await options.throttle.begin(address);
      if (!attempt.allowed) throw tooManyFailures(attempt.retryAfterMs);
    }
    let refusal: RefusalReason | undefined;
    try {
      refusal = await options.cache.refusal(credential);
      if (refusal) throw unauthenticated(REASONS[refusal]);
      const epoch = options.cache.epoch();
      const result = await options.call<ViewerLookup>(options.viewerUrl, body, requestId);
      if (!result.viewer) {
        refusal = result.reason;
        await options.cache.rememberRefusal(credential, refusal);
        throw unauthenticated(REASONS[refusal]);
      }
      const { userId, tier, isAdmin, apiKeyId, sessionId } = result.viewer;
      const scopes = [...options.tiers[tier].scopes, ...(isAdmin ? [Scope.ADMIN] : [])];
      const viewer: Extract<Viewer, { kind: 'user' }> = {
        kind: 'user',
        userId,
        tier,
        scopes,
        ...(apiKeyId ? { apiKeyId } : {}),
        ...(sessionId ? { sessionId } : {}),
      };
      await options.cache.set(credential, viewer, epoch);
      return viewer;
    } finally {
      // Only a credential nobody issued counts against the address: a good one, a revoked key or an
      // ended session (real credentials, not guesses: their floods stop at the refusal cache), or a
      // lookup that failed for another reason (users subgraph away) is given back.
      if (guessable && refusal !== 'unknown') await options.throttle.succeeded(address);
    }
  };

  /** Lookups of one credential from one address in flight at once: one asks the users subgraph (and counts once), the rest wait for it. */
  const inFlight = new Map<string, Promise<Viewer>>();
  const lookup = async (
    credential: string,
    body: { apiKey: string } | { userId: string; sessionId: string },
    address: string,
    requestId: string | undefined,
  ): Promise<Viewer> => {
    const cached = await options.cache.get(credential);
    if (cached) return cached;
    // Per address too: one address's refusal (429) must not reach requests from another.
    const key = `${address}\0${credential}`;
    let pending = inFlight.get(key);
    if (!pending) {
      pending = resolve(credential, body, address, requestId).finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    return pending;
  };

  /** The request's id (the HTTP server put it in the request's headers), sent along with the lookup it makes. */
  const requestIdIn = (req: IncomingMessage) => {
    const id = req.headers[REQUEST_ID_HEADER];
    return typeof id === 'string' ? id : undefined;
  };

  /** A request's viewer: at once for an anonymous request (no credentials to look up), else once they are checked. */
  return function identify(req: IncomingMessage): Viewer | Promise<Viewer> {
    const authorization = req.headers.authorization;
    const apiKey = req.headers['x-api-key'];
    if (authorization === undefined && apiKey === undefined) return anonymousViewer(options.addressOf(req));
    return identifyCredentialed(req, authorization, apiKey);
  };

  async function identifyCredentialed(
    req: IncomingMessage,
    authorization: string | undefined,
    apiKey: string | string[] | undefined,
  ): Promise<Viewer> {
    if (authorization !== undefined && apiKey !== undefined) {
      throw new HttpError(400, ErrorCode.BAD_REQUEST, 'Send either Authorization or x-api-key, not both');
    }
    if (typeof apiKey === 'string') {
      if (apiKey.length === 0 || apiKey.length > 200) return refuse(options.addressOf(req), 'Invalid API key');
      // Keyed by a hash: the cache must never hold a usable secret.
      return lookup(
        `key:${createHash('sha256').update(apiKey).digest('base64url')}`,
        { apiKey },
        options.addressOf(req),
        requestIdIn(req),
      );
    }
    if (typeof authorization === 'string') {
      const match = /^Bearer\s+([\w-]+\.[\w-]*\.[\w-]*)$/i.exec(authorization.trim());
      if (!match) return refuse(options.addressOf(req), 'Authorization must be "Bearer <token>"');
      let session: SessionClaims;
      try {
        session = await verify(match[1]!);
      } catch (error) {
        // Expired, but signed here: not a guess, so not counted against the address.
        if (error instanceof SessionTokenExpired) throw unauthenticated('The token has expired: log in again');
        return refuse(options.addressOf(req), 'Invalid token');
      }
      // Cached per session, not per user: one session can end while the user's others go on.
      return lookup(
        `session:${session.sessionId}`,
        { userId: session.userId, sessionId: session.sessionId },
        options.addressOf(req),
        requestIdIn(req),
      );
    }
    return anonymousViewer(options.addressOf(req));
  }
}
