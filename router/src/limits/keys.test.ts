import { describe, expect, it } from 'vitest';
import { utcDay } from './keys';

describe('utcDay', () => {
  it('names the UTC day of any instant, whichever day was asked before', () => {
    const endOf7th = Date.UTC(2026, 11, 7, 23, 59, 59, 999);
    expect(utcDay(endOf7th)).toBe('2026-12-07');
    expect(utcDay(endOf7th + 1)).toBe('2026-12-08');
    expect(utcDay(Date.UTC(2026, 11, 7))).toBe('2026-12-07');
    expect(utcDay(Date.UTC(2027, 0, 1, 0, 0, 0, 1))).toBe('2027-01-01');
  });
});
