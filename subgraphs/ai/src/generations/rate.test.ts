import { describe, expect, it } from 'vitest';
import { RATE_WINDOW_MS, createGenerationRateLimit } from './rate';

describe('the in-process generations-per-minute limit', () => {
  it('counts any 60 s: generations just before a minute boundary still count just after it', async () => {
    let now = 59_000;
    const rate = createGenerationRateLimit(null, '', () => now);
    for (let i = 0; i < 3; i++) expect((await rate.take('u', 3)).allowed).toBe(true);
    now = 61_000;
    expect(await rate.take('u', 3)).toEqual({ allowed: false, retryAfterMs: 59_000 - 61_000 + RATE_WINDOW_MS });
    expect((await rate.take('other', 3)).allowed).toBe(true);
    // Refused attempts took nothing: the window frees the moment the first ones leave it.
    now = 59_000 + RATE_WINDOW_MS;
    expect((await rate.take('u', 3)).allowed).toBe(true);
    expect((await rate.take('u', 3)).allowed).toBe(true);
    expect((await rate.take('u', 3)).allowed).toBe(true);
    expect((await rate.take('u', 3)).allowed).toBe(false);
  });

  it('lets generations leave the window one by one', async () => {
    let now = 0;
    const rate = createGenerationRateLimit(null, '', () => now);
    for (const at of [0, 10_000, 20_000]) {
      now = at;
      expect((await rate.take('u', 3)).allowed).toBe(true);
    }
    now = 59_999;
    expect((await rate.take('u', 3)).allowed).toBe(false);
    now = 60_000;
    expect((await rate.take('u', 3)).allowed).toBe(true);
    expect(await rate.take('u', 3)).toEqual({ allowed: false, retryAfterMs: 10_000 });
  });
});
