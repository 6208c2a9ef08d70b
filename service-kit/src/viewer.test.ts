import { afterEach, describe, expect, it, vi } from 'vitest';
import { SignJWT } from 'jose';
import {
  ViewerSignatureError,
  createViewerSigner,
  createViewerVerifier,
  secretKey,
  signViewer,
  verifyViewer,
  type Viewer,
} from './viewer';

const key = secretKey('a'.repeat(40));
const viewer: Viewer = { kind: 'user', userId: '7', tier: 'premium', scopes: ['memes:ai'] };

describe('viewer signatures', () => {
  it('round-trips a viewer', async () => {
    expect(await verifyViewer(await signViewer(viewer, key), key)).toEqual(viewer);
  });

  it('refuses another secret, expiry, alg none and tampering', async () => {
    const other = await signViewer(viewer, secretKey('b'.repeat(40)));
    await expect(verifyViewer(other, key)).rejects.toThrow(ViewerSignatureError);

    const expired = await new SignJWT({ v: viewer })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('memegraph-router')
      .setAudience('memegraph-subgraph')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 5)
      .sign(key);
    await expect(verifyViewer(expired, key)).rejects.toThrow('expired');

    const [, payload] = (await signViewer(viewer, key)).split('.');
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
    await expect(verifyViewer(none, key)).rejects.toThrow(ViewerSignatureError);

    const tampered = (await signViewer(viewer, key)).split('.');
    tampered[1] = Buffer.from(JSON.stringify({ v: { ...viewer, tier: 'enterprise' } })).toString('base64url');
    await expect(verifyViewer(tampered.join('.'), key)).rejects.toThrow(ViewerSignatureError);
  });
});

describe('the subgraph verifier', () => {
  it('remembers a verified token until it expires, and refuses what verifyViewer refuses', async () => {
    const verify = createViewerVerifier(key);
    const token = await signViewer(viewer, key, 2);
    expect(await verify(token)).toEqual(viewer);
    expect(await verify(token)).toEqual(viewer);

    const tampered = token.split('.');
    tampered[1] = Buffer.from(
      JSON.stringify({ v: { ...viewer, tier: 'enterprise' }, exp: Math.floor(Date.now() / 1000) + 60 }),
    ).toString('base64url');
    await expect(verify(tampered.join('.'))).rejects.toThrow(ViewerSignatureError);
    await expect(verify(await signViewer(viewer, secretKey('b'.repeat(40))))).rejects.toThrow(ViewerSignatureError);
    // Without an expiry a token is refused: nothing is remembered for ever.
    const forever = await new SignJWT({ v: viewer })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('memegraph-router')
      .setAudience('memegraph-subgraph')
      .sign(key);
    await expect(verify(forever)).rejects.toThrow(ViewerSignatureError);

    // Past its exp the remembered token is checked again, and refused.
    await new Promise((r) => setTimeout(r, 2_100));
    await expect(verify(token)).rejects.toThrow('expired');
  });
});

afterEach(() => vi.useRealTimers());

describe('signed viewers', () => {
  it('are reused for the same viewer for 30 s, then made again; another tier is another token', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const sign = createViewerSigner(key);
    const first = await sign(viewer);
    expect(await sign({ ...viewer })).toBe(first);
    expect(await verifyViewer(first, key)).toMatchObject({ userId: '7', tier: 'premium' });

    const upgraded = await sign({ ...viewer, tier: 'enterprise', scopes: ['memes:read', 'memes:ai'] });
    expect(upgraded).not.toBe(first);
    expect(await verifyViewer(upgraded, key)).toMatchObject({ tier: 'enterprise' });

    vi.setSystemTime(Date.now() + 31_000);
    const renewed = await sign(viewer);
    expect(renewed).not.toBe(first);
    // Still valid well after it was made: the reused token never reaches a subgraph near its end.
    vi.setSystemTime(Date.now() + 29_000);
    expect(await sign(viewer)).toBe(renewed);
    expect(await verifyViewer(renewed, key)).toMatchObject({ userId: '7' });
  });
});
