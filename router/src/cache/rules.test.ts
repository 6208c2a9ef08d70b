import { describe, expect, it } from 'vitest';
import { mutationPurges } from './rules';

const base = {
  entityTags: [] as string[],
  userId: 'u1',
  entitlementMutations: new Set(['subscribe', 'cancelSubscription', 'revokeApiKey']),
};

describe('mutationPurges', () => {
  it('purges for root fields that returned a value, by their response key, keeping stale copies', () => {
    const purges = mutationPurges({
      ...base,
      fields: [{ name: 'createMeme', responseKey: 'made' }],
      data: { made: { id: '7' } },
      errors: [{ path: ['made', 'author'] }],
      entityTags: ['Meme:7'],
    });
    expect(purges).toEqual([{ tags: ['Meme:list', 'User:u1', 'Meme:7'], keepStale: true }]);
  });

  it('purges nothing for a field that was refused, failed or returned null', () => {
    const fields = [
      { name: 'generateMeme', responseKey: 'generateMeme' },
      { name: 'createMeme', responseKey: 'a' },
      { name: 'cancelSubscription', responseKey: 'cancelSubscription' },
    ];
    expect(mutationPurges({ ...base, fields, data: {}, errors: undefined })).toEqual([]);
    expect(mutationPurges({ ...base, fields, data: null, errors: [{ path: ['a'] }] })).toEqual([]);
    expect(
      mutationPurges({
        ...base,
        fields,
        data: { a: { id: '1' }, cancelSubscription: null },
        errors: [{ path: ['a'] }],
      }),
    ).toEqual([]);
  });

  it('keeps no stale copy after an entitlement change, and drops what another field would have kept', () => {
    const purges = mutationPurges({
      ...base,
      fields: [
        { name: 'createApiKey', responseKey: 'key' },
        { name: 'revokeApiKey', responseKey: 'revoked' },
      ],
      data: { key: { id: 'k2' }, revoked: { id: 'k1' } },
      errors: undefined,
      entityTags: ['ApiKey:k1', 'ApiKey:k2'],
    });
    expect(purges).toEqual([{ tags: ['User:u1', 'ApiKey:k1', 'ApiKey:k2'], keepStale: false }]);
  });

  it('leaves viewer tags out for anonymous viewers', () => {
    const purges = mutationPurges({
      ...base,
      userId: null,
      fields: [{ name: 'createMeme', responseKey: 'createMeme' }],
      data: { createMeme: { id: '1' } },
      errors: [],
    });
    expect(purges).toEqual([{ tags: ['Meme:list'], keepStale: true }]);
  });
});
