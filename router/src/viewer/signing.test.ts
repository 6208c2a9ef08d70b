import { afterEach, describe, expect, it, vi } from 'vitest';
import { secretKey, verifyViewer, type Viewer } from '@memegraph/service-kit';
import { createViewerSigner } from './signing';

const key = secretKey('a signing secret of at least thirty-two characters');
const viewer: Viewer = { kind: 'user', userId: '7', tier: 'free', scopes: ['memes:read'] };

afterEach(() => vi.useRealTimers());

describe('signed viewers', () => {
  it('are reused for the same viewer for 30 s, then made again; another tier is another token', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const sign = createViewerSigner(key);
    const first = await sign(viewer);
    expect(await sign({ ...viewer })).toBe(first);
    expect(await verifyViewer(first, key)).toMatchObject({ userId: '7', tier: 'free' });

    const upgraded = await sign({ ...viewer, tier: 'premium', scopes: ['memes:read', 'memes:ai'] });
    expect(upgraded).not.toBe(first);
    expect(await verifyViewer(upgraded, key)).toMatchObject({ tier: 'premium' });

    vi.setSystemTime(Date.now() + 31_000);
    const renewed = await sign(viewer);
    expect(renewed).not.toBe(first);
    // Still valid well after it was made: the reused token never reaches a subgraph near its end.
    vi.setSystemTime(Date.now() + 29_000);
    expect(await sign(viewer)).toBe(renewed);
    expect(await verifyViewer(renewed, key)).toMatchObject({ userId: '7' });
  });
});
