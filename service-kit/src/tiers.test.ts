import { describe, expect, it } from 'vitest';
import { DEFAULT_TIERS, loadTiers } from './tiers';

describe('tier table', () => {
  it('is the default table without overrides', () => {
    expect(loadTiers(undefined)).toBe(DEFAULT_TIERS);
    expect(DEFAULT_TIERS.premium.scopes).toContain('memes:ai');
    expect(DEFAULT_TIERS.free.scopes).not.toContain('memes:ai');
  });

  it('merges TIERS_JSON over the defaults without code changes', () => {
    const table = loadTiers('{"free":{"requestsPerMinute":500}}');
    expect(table.free.requestsPerMinute).toBe(500);
    expect(table.free.maxCostPerOperation).toBe(DEFAULT_TIERS.free.maxCostPerOperation);
    expect(table.premium).toEqual(DEFAULT_TIERS.premium);
  });

  it('names TIERS_JSON when it is wrong', () => {
    expect(() => loadTiers('{nope')).toThrow('TIERS_JSON');
    expect(() => loadTiers('{"gold":{}}')).toThrow('TIERS_JSON');
    expect(() => loadTiers('{"free":{"requestsPerMinute":-1}}')).toThrow('TIERS_JSON');
  });
});
