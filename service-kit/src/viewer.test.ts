import { describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { ViewerSignatureError, secretKey, signViewer, verifyViewer, type Viewer } from './viewer';

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
