import { describe, expect, it } from 'vitest';
import { takeEntityTags, withoutEntityIds } from './entities';

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

describe('withoutEntityIds', () => {
  it('copies an answer without the added keys, as plain objects, with its entity tags', () => {
    const dictionary = (entries: [string, unknown][]) => {
      const object = Object.create(null) as Record<string, unknown>;
      for (const [key, value] of entries) object[key] = value;
      return object;
    };
    // As the gateway shapes an answer: objects with a null prototype.
    const data = dictionary([
      [
        'trending',
        [
          dictionary([
            ['title', 'a'],
            ['memegraphId', '1'],
            ['memegraphType', 'Meme'],
            [
              'author',
              dictionary([
                ['handle', 'h'],
                ['memegraphId', '7'],
                ['memegraphType', 'User'],
              ]),
            ],
          ]),
          null,
        ],
      ],
      ['plans', [dictionary([['tier', 'FREE']])]],
      [
        'user',
        dictionary([
          ['handle', 'x'],
          ['memegraphId', '9'],
          ['memegraphType', 'User'],
          ['tags', ['a', 'b']],
        ]),
      ],
      ['nothing', null],
    ]);
    const copied = withoutEntityIds(data);
    expect([...copied.tags].sort()).toEqual(['Meme:1', 'Meme:list', 'User:7', 'User:9', 'User:list']);
    expect(copied.data).toEqual({
      trending: [{ title: 'a', author: { handle: 'h' } }, null],
      plans: [{ tier: 'FREE' }],
      user: { handle: 'x', tags: ['a', 'b'] },
      nothing: null,
    });
    // The keys in the order the answer had them, and none of the added ones, even undefined.
    expect(Object.keys(copied.data)).toEqual(['trending', 'plans', 'user', 'nothing']);
    expect(Object.keys(copied.data.user as object)).toEqual(['handle', 'tags']);
    expect(Object.getPrototypeOf(copied.data)).toBe(Object.prototype);
    expect(JSON.stringify(copied.data)).toBe(
      '{"trending":[{"title":"a","author":{"handle":"h"}},null],"plans":[{"tier":"FREE"}],"user":{"handle":"x","tags":["a","b"]},"nothing":null}',
    );
  });

  it('keeps a response key named __proto__ as a key, not as the prototype', () => {
    const data = Object.create(null) as Record<string, unknown>;
    data.__proto__ = { title: 'a' };
    const copied = withoutEntityIds(data);
    expect(Object.getPrototypeOf(copied.data)).toBe(Object.prototype);
    expect(JSON.stringify(copied.data)).toBe('{"__proto__":{"title":"a"}}');
  });
});
