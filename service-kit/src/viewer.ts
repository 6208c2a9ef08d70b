import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import type { Tier } from './tiers';

/** Who is asking. The router decides; subgraphs only ever trust the signed header. */
export type Viewer =
  | { kind: 'anonymous'; tier: 'anonymous'; scopes: string[]; clientIp?: string }
  | { kind: 'user'; userId: string; tier: Tier; scopes: string[]; apiKeyId?: string }
  /** Another Memegraph service calling an internal endpoint. */
  | { kind: 'service'; service: string; tier: 'enterprise'; scopes: string[] };

export const VIEWER_HEADER = 'x-memegraph-viewer';
const AUDIENCE = 'memegraph-subgraph';
const ISSUER = 'memegraph-router';

export const anonymousViewer = (clientIp?: string): Viewer => ({ kind: 'anonymous', tier: 'anonymous', scopes: [], clientIp });
export const serviceViewer = (service: string): Viewer => ({ kind: 'service', service, tier: 'enterprise', scopes: [] });

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
  try {
    const { payload } = await jwtVerify<{ v: Viewer }>(token, secret, {
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['HS256'],
    });
    if (!payload.v || typeof payload.v !== 'object' || !Array.isArray(payload.v.scopes)) {
      throw new ViewerSignatureError('viewer claim missing');
    }
    return payload.v;
  } catch (error) {
    if (error instanceof ViewerSignatureError) throw error;
    if (error instanceof joseErrors.JWTExpired) throw new ViewerSignatureError('viewer signature expired');
    throw new ViewerSignatureError('viewer signature invalid');
  }
}

export const secretKey = (secret: string): Uint8Array => new TextEncoder().encode(secret);
