import { describe, expect, it } from 'vitest';
import { openSharedState } from '../state/shared';
import { createCredentialThrottle } from './throttle';

describe('credential throttle without Redis (one instance)', () => {
  const throttle = () =>
    createCredentialThrottle(openSharedState(undefined, 'test:'), { failuresPerAddress: 3, windowMs: 60_000 });

  it('refuses an address past its allowance, with how long to wait, and no other address', async () => {
    const t = throttle();
    for (let i = 0; i < 3; i++) expect(await t.begin('203.0.113.1')).toEqual({ allowed: true });
    const refused = await t.begin('203.0.113.1');
    expect(refused.allowed).toBe(false);
    if (!refused.allowed) expect(refused.retryAfterMs).toBeGreaterThan(0);
    if (!refused.allowed) expect(refused.retryAfterMs).toBeLessThanOrEqual(60_000);
    expect(await t.begin('203.0.113.2')).toEqual({ allowed: true });
  });

  it('gives an attempt back when the credential proves good, so good credentials never use up the allowance', async () => {
    const t = throttle();
    for (let i = 0; i < 10; i++) {
      expect(await t.begin('203.0.113.3')).toEqual({ allowed: true });
      await t.succeeded('203.0.113.3');
    }
    // Giving back more than was taken does not buy extra failures.
    await t.succeeded('203.0.113.3');
    for (let i = 0; i < 3; i++) expect(await t.begin('203.0.113.3')).toEqual({ allowed: true });
    expect((await t.begin('203.0.113.3')).allowed).toBe(false);
  });
});
