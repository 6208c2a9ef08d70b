import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TIERS, secretKey, signSessionToken, type InternalClient } from '@memegraph/service-kit';
import { openSharedState } from '../state/shared';
import { ViewerCache } from './cache';
import { createViewerIdentifier } from './identify';
import { createCredentialThrottle } from './throttle';

const JWT_SECRET = 'j'.repeat(32);
const SESSION = { userId: '42', sessionId: '8d0e4c4e-58a1-4a3c-9d5e-0a4c2f1e9b7d' };
const START = Date.parse('2026-12-07T10:00:00Z');

/** An identifier on this process's own state, its clock `clock.now`, the users subgraph's lookups answered and counted here. */
function identifier(clock: { now: number }) {
  const state = openSharedState(undefined, 'identify-test:');
  const lookups: unknown[] = [];
  const call = (async (_url: URL, body: unknown) => {
    lookups.push(body);
    return { viewer: { userId: SESSION.userId, tier: 'free', isAdmin: false, sessionId: SESSION.sessionId } };
  }) as InternalClient;
  const identify = createViewerIdentifier({
    jwtSecret: JWT_SECRET,
    tiers: DEFAULT_TIERS,
    call,
    viewerUrl: new URL('http://users.invalid/internal/viewer'),
    // The viewer is looked up again on every request, so each one shows whether its token was accepted.
    cache: new ViewerCache(state, { localTtlMs: 0, sharedTtlMs: 1, refusedTtlMs: 1, now: () => clock.now }),
    throttle: createCredentialThrottle(state, { failuresPerAddress: 100, windowMs: 60_000 }),
    addressOf: () => '203.0.113.7',
    now: () => clock.now,
  });
  return { identify, lookups };
}

const bearer = (token: string) =>
  ({ headers: { authorization: `Bearer ${token}`, 'x-request-id': 'req-1' } }) as unknown as IncomingMessage;

describe('the viewer identifier', () => {
  it('takes a session token checked once until it expires, then refuses it as expired', async () => {
    const clock = { now: START };
    const { identify } = identifier(clock);
    const token = await signSessionToken({ ...SESSION, expiresAt: new Date(START + 60_000) }, secretKey(JWT_SECRET));

    await expect(identify(bearer(token))).resolves.toMatchObject({ kind: 'user', userId: '42' });
    clock.now = START + 59_000;
    await expect(identify(bearer(token))).resolves.toMatchObject({ kind: 'user', userId: '42' });
    clock.now = START + 60_000;
    await expect(identify(bearer(token))).rejects.toMatchObject({
      status: 401,
      message: 'The token has expired: log in again',
    });
  });

  it('refuses a token signed with another key, checked or not before', async () => {
    const clock = { now: START };
    const { identify, lookups } = identifier(clock);
    const forged = await signSessionToken(
      { ...SESSION, expiresAt: new Date(START + 60_000) },
      secretKey('f'.repeat(32)),
    );
    await expect(identify(bearer(forged))).rejects.toMatchObject({ status: 401, message: 'Invalid token' });
    expect(lookups).toHaveLength(0);
  });

  it('knows an anonymous viewer at once, without a promise', () => {
    const { identify } = identifier({ now: START });
    const viewer = identify({ headers: {} } as unknown as IncomingMessage);
    expect(viewer).not.toBeInstanceOf(Promise);
    expect(viewer).toMatchObject({ kind: 'anonymous' });
  });
});
