import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';

/**
 * User session tokens: HS256 JWTs minted by the users subgraph at sign-up
 * and log-in, verified by the router. Both read the same JWT_SECRET.
 *
 * Each token names its session (`jti`): a row the users subgraph keeps, so
 * a session can be ended (log-out, log-out everywhere, a password change)
 * and the router refuses its token from then on, on every router.
 */
const ISSUER = 'memegraph';
const AUDIENCE = 'memegraph-api';

export interface SessionClaims {
  userId: string;
  sessionId: string;
}

const USER_ID = /^\d{1,18}$/;
const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const isSessionId = (value: unknown): value is string => typeof value === 'string' && SESSION_ID.test(value);

export async function signSessionToken(
  session: SessionClaims & { expiresAt: Date },
  secret: Uint8Array,
): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(session.userId)
    .setJti(session.sessionId)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(Math.floor(session.expiresAt.getTime() / 1000))
    .sign(secret);
}

/** A token this service signed, past its `exp`: genuine, unlike a forged one, but over. */
export class SessionTokenExpired extends Error {}

/**
 * The user and session of a valid token; throws on a bad signature, a wrong
 * algorithm (including `none`), expiry (`SessionTokenExpired`: the signature
 * is checked first), and a token without `exp` or `jti`: a token that never
 * expires or names no session could never be ended.
 */
export async function verifySessionToken(
  token: string,
  secret: Uint8Array,
  /** The time it is checked at (now). */
  at?: Date,
): Promise<SessionClaims & { expiresAt: Date }> {
  let payload;
  try {
    ({ payload } = await jwtVerify(token, secret, {
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['HS256'],
      requiredClaims: ['exp', 'jti', 'sub'],
      ...(at && { currentDate: at }),
    }));
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) throw new SessionTokenExpired('session token expired');
    throw error;
  }
  if (typeof payload.sub !== 'string' || !USER_ID.test(payload.sub)) throw new Error('token has no valid subject');
  if (!isSessionId(payload.jti)) throw new Error('token names no valid session');
  return { userId: payload.sub, sessionId: payload.jti, expiresAt: new Date(payload.exp! * 1000) };
}
