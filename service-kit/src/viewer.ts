import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { LRUCache } from 'lru-cache';
import type { Tier } from './tiers';

/** Who is asking. The router decides; subgraphs only ever trust the signed header. */
export type Viewer =
  | { kind: 'anonymous'; tier: 'anonymous'; scopes: string[]; clientIp?: string }
  /** Signed in with an API key (`apiKeyId`) or a session token (`sessionId`). */
  | { kind: 'user'; userId: string; tier: Tier; scopes: string[]; apiKeyId?: string; sessionId?: string }
  /** Another Memegraph service calling an internal endpoint. */
  | { kind: 'service'; service: string; tier: 'enterprise'; scopes: string[] };

export const VIEWER_HEADER = 'x-memegraph-viewer';
const AUDIENCE = 'memegraph-subgraph';
const ISSUER = 'memegraph-router';

export const anonymousViewer = (clientIp?: string): Viewer => ({
  kind: 'anonymous',
  tier: 'anonymous',
  scopes: [],
  clientIp,
});
export const serviceViewer = (service: string): Viewer => ({
  kind: 'service',
  service,
  tier: 'enterprise',
  scopes: [],
});

export const hasScope = (viewer: Viewer, scope: string) => viewer.scopes.includes(scope);
export const viewerUserId = (viewer: Viewer): string | null => (viewer.kind === 'user' ? viewer.userId : null);

/**
 * Signs the viewer for one hop to a subgraph. The token lives for seconds:
 * long enough for a slow subgraph call, too short to be worth replaying.
 */
export async function signViewer(viewer: Viewer, secret: Uint8Array, ttlSeconds = 60): Promise<string> {
  return new SignJWT({ v: viewer })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(secret);
}

export class ViewerSignatureError extends Error {}

export async function verifyViewer(token: string, secret: Uint8Array): Promise<Viewer> {
  return (await verifySigned(token, secret)).viewer;
}

async function verifySigned(token: string, secret: Uint8Array): Promise<{ viewer: Viewer; expiresAt: number }> {
  try {
    const { payload } = await jwtVerify<{ v: Viewer }>(token, secret, {
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['HS256'],
      requiredClaims: ['exp'],
    });
    if (!payload.v || typeof payload.v !== 'object' || !Array.isArray(payload.v.scopes)) {
      throw new ViewerSignatureError('viewer claim missing');
    }
    return { viewer: payload.v, expiresAt: payload.exp! * 1000 };
  } catch (error) {
    if (error instanceof ViewerSignatureError) throw error;
    if (error instanceof joseErrors.JWTExpired) throw new ViewerSignatureError('viewer signature expired');
    throw new ViewerSignatureError('viewer signature invalid');
  }
}

/**
 * `signViewer` for the router's subgraph calls, reusing a token for the same
 * viewer for 30 s of its 60: an HS256 signature through Web Crypto took
 * about 150 µs, about 3% of the router's CPU on a cache miss when every
 * request signed its own, and the subgraphs verify a repeated token once
 * (`createViewerVerifier`). A viewer whose tier or scopes change is another
 * viewer, and gets its own token.
 */
export function createViewerSigner(secret: Uint8Array, options: { max?: number } = {}) {
  const signed = new LRUCache<string, { token: Promise<string>; renewAt: number }>({ max: options.max ?? 10_000 });
  return (viewer: Viewer): Promise<string> => {
    const id = JSON.stringify(viewer);
    const now = Date.now();
    const known = signed.get(id);
    if (known && now < known.renewAt) return known.token;
    const token = signViewer(viewer, secret, SIGNED_VIEWER_TTL_SECONDS);
    signed.set(id, { token, renewAt: now + SIGNED_VIEWER_REUSE_MS });
    token.catch(() => signed.delete(id));
    return token;
  };
}

export type ViewerSigner = ReturnType<typeof createViewerSigner>;

/** A signed viewer is valid this long… */
const SIGNED_VIEWER_TTL_SECONDS = 60;
/** …and handed out again for this long after it was made, so a subgraph never gets one about to expire. */
const SIGNED_VIEWER_REUSE_MS = 30_000;

/**
 * `verifyViewer` for a subgraph's every request, remembering the tokens it
 * verified until they expire. The router hands the same token out for a
 * viewer for a while, and the internal client reuses its own: a repeated
 * token is looked up, not verified again (an HS256 check through Web Crypto
 * took about 150 µs). A token is only ever taken for exactly the string
 * that was verified, and never past its `exp`.
 */
export function createViewerVerifier(secret: Uint8Array, options: { max?: number } = {}) {
  const verified = new LRUCache<string, { viewer: Viewer; expiresAt: number }>({ max: options.max ?? 10_000 });
  return async (token: string): Promise<Viewer> => {
    const known = verified.get(token);
    if (known && Date.now() < known.expiresAt) return known.viewer;
    const fresh = await verifySigned(token, secret);
    verified.set(token, fresh);
    return fresh.viewer;
  };
}

export const secretKey = (secret: string): Uint8Array => new TextEncoder().encode(secret);
