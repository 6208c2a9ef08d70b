import { SignJWT, jwtVerify } from 'jose';

/**
 * User session tokens: HS256 JWTs minted by the users subgraph at sign-up
 * and log-in, verified by the router. Both read the same JWT_SECRET.
 */
const ISSUER = 'memegraph';
const AUDIENCE = 'memegraph-api';

export async function signSessionToken(userId: string, secret: Uint8Array, ttlSeconds: number): Promise<{ token: string; expiresAt: Date }> {
  const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
    .sign(secret);
  return { token, expiresAt };
}

/** The user id of a valid token; throws on a bad signature, wrong algorithm (including `none`) or expiry. */
export async function verifySessionToken(token: string, secret: Uint8Array): Promise<string> {
  const { payload } = await jwtVerify(token, secret, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] });
  if (typeof payload.sub !== 'string' || !/^\d{1,18}$/.test(payload.sub)) throw new Error('token has no valid subject');
  return payload.sub;
}
