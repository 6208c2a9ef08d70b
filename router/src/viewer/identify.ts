import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  ErrorCode,
  HttpError,
  Scope,
  anonymousViewer,
  secretKey,
  verifySessionToken,
  type InternalClient,
  type TierTable,
  type Viewer,
} from '@memegraph/service-kit';
import type { ViewerCache } from './cache';

/** The users subgraph's answer about a credential. */
type ViewerLookup =
  | { viewer: { userId: string; tier: Viewer['tier']; isAdmin: boolean; apiKeyId?: string } }
  | { viewer: null; reason: 'unknown' | 'revoked' };

const REASONS: Record<string, string> = {
  unknown: 'The credential does not belong to any account',
  revoked: 'The API key has been revoked',
};

const unauthenticated = (message: string) => new HttpError(401, ErrorCode.UNAUTHENTICATED, message);

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
  /** Where a request came from: anonymous viewers are keyed by it. */
  addressOf: (req: IncomingMessage) => string;
}) {
  const jwtKey = secretKey(options.jwtSecret);

  const lookup = async (credential: string, body: { apiKey: string } | { userId: string }): Promise<Viewer> => {
    const cached = await options.cache.get(credential);
    if (cached) return cached;
    const epoch = options.cache.epoch();
    const result = await options.call<ViewerLookup>(options.viewerUrl, body);
    // Refusals are not cached: a revoked key stays refused in the database anyway.
    if (!result.viewer) throw unauthenticated(REASONS[result.reason] ?? 'Invalid credential');
    const { userId, tier, isAdmin, apiKeyId } = result.viewer;
    const scopes = [...options.tiers[tier].scopes, ...(isAdmin ? [Scope.ADMIN] : [])];
    const viewer: Extract<Viewer, { kind: 'user' }> = { kind: 'user', userId, tier, scopes, ...(apiKeyId ? { apiKeyId } : {}) };
    await options.cache.set(credential, viewer, epoch);
    return viewer;
  };

  return async function identify(req: IncomingMessage): Promise<Viewer> {
    const authorization = req.headers.authorization;
    const apiKey = req.headers['x-api-key'];
    if (authorization !== undefined && apiKey !== undefined) {
      throw new HttpError(400, ErrorCode.BAD_REQUEST, 'Send either Authorization or x-api-key, not both');
    }
    if (typeof apiKey === 'string') {
      if (apiKey.length === 0 || apiKey.length > 200) throw unauthenticated('Invalid API key');
      // Keyed by a hash: the cache must never hold a usable secret.
      return lookup(`key:${createHash('sha256').update(apiKey).digest('base64url')}`, { apiKey });
    }
    if (typeof authorization === 'string') {
      const match = /^Bearer\s+([\w-]+\.[\w-]*\.[\w-]*)$/i.exec(authorization.trim());
      if (!match) throw unauthenticated('Authorization must be "Bearer <token>"');
      let userId: string;
      try {
        userId = await verifySessionToken(match[1]!, jwtKey);
      } catch {
        throw unauthenticated('Invalid or expired token');
      }
      return lookup(`user:${userId}`, { userId });
    }
    return anonymousViewer(options.addressOf(req));
  };
}
