import { describe, expect, it } from 'vitest';
import { takeEntityTags } from './entities';

describe('takeEntityTags', () => {
  it('reads the entity tags an answer holds, and leaves the added keys out of its serialized form', () => {
    const data = {
      trending: [
        {
          title: 'a',
          memegraphId: '1',
          memegraphType: 'Meme',
          author: { handle: 'h', memegraphId: '7', memegraphType: 'User' },
        },
      ],
      plans: [{ tier: 'FREE' }],
      user: { handle: 'x', memegraphId: '9', memegraphType: 'User' },
    };
    expect([...takeEntityTags(data)].sort()).toEqual(['Meme:1', 'Meme:list', 'User:7', 'User:9', 'User:list']);
    expect(JSON.parse(JSON.stringify(data))).toEqual({
      trending: [{ title: 'a', author: { handle: 'h' } }],
      plans: [{ tier: 'FREE' }],
      user: { handle: 'x' },
    });
    // Objects without the keys get none.
    expect(Object.keys(data.plans[0]!)).toEqual(['tier']);
  });
});
