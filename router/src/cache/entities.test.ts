import { buildSchema, parse, print } from 'graphql';
import { describe, expect, it } from 'vitest';
import { withEntityIds, withoutEntityIds } from './entities';

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

describe('withEntityIds', () => {
  const schema = buildSchema(`
    interface Node { id: ID! }
    type Meme implements Node { id: ID! title: String author: User }
    type User implements Node { id: ID! handle: String best: Meme }
    type Plan { tier: String }
    union Found = Meme | User
    type Query { trending: [Meme] node: Node found: [Found] plans: [Plan] }
  `);
  const tagged = (query: string, operationName?: string) => withEntityIds(schema, parse(query), operationName);

  it('adds the id under a key naming the type on object types, and the id and __typename on interfaces', () => {
    const { document } = withEntityIds(
      schema,
      parse('{ trending { title author { handle } } node { id } found { ... on User { handle } } plans { tier } }'),
    );
    expect(print(document)).toBe(
      print(
        parse(`{
          trending { title author { handle memegraphId_User: id } memegraphId_Meme: id }
          node { id memegraphId: id memegraphType: __typename }
          found { ... on User { handle memegraphId_User: id } }
          plans { tier }
        }`),
      ),
    );
  });

  it('takes every added key out of the answer again, with the tags they give', () => {
    const data = {
      trending: [{ title: 'a', author: { handle: 'h', memegraphId_User: '7' }, memegraphId_Meme: '1' }],
      node: { id: '3', memegraphId: '3', memegraphType: 'User' },
      found: [{ handle: 'x', memegraphId_User: '9' }],
      plans: [{ tier: 'FREE' }],
      // A key of the client's own that merely starts like one is kept.
      memegraphIdea: 'kept',
    };
    const copied = withoutEntityIds(data);
    expect([...copied.tags].sort()).toEqual(['Meme:1', 'Meme:list', 'User:3', 'User:7', 'User:9', 'User:list']);
    expect(copied.data).toEqual({
      trending: [{ title: 'a', author: { handle: 'h' } }],
      node: { id: '3' },
      found: [{ handle: 'x' }],
      plans: [{ tier: 'FREE' }],
      memegraphIdea: 'kept',
    });
  });

  it('adds nothing where the client asked for the id on a path of one object type, and tags from that id', () => {
    const { document, shape } = tagged('{ trending { id title author { key: id handle } } }');
    expect(print(document)).toBe(print(parse('{ trending { id title author { key: id handle } } }')));
    const copied = withoutEntityIds(
      {
        trending: [
          { id: '1', title: 'a', author: { key: '7', handle: 'h' } },
          { id: '2', title: 'b', author: null },
        ],
      },
      shape,
    );
    expect([...copied.tags].sort()).toEqual(['Meme:1', 'Meme:2', 'Meme:list', 'User:7', 'User:list']);
    expect(copied.data).toEqual({
      trending: [
        { id: '1', title: 'a', author: { key: '7', handle: 'h' } },
        { id: '2', title: 'b', author: null },
      ],
    });
  });

  it('still adds the id under an abstract type, where a path does not name one type', () => {
    const { document, shape } = tagged(
      '{ found { ... on Meme { id title } ... on User { id handle } } node { ... on Meme { id } } }',
    );
    expect(print(document)).toBe(
      print(
        parse(`{
          found { ... on Meme { id title memegraphId_Meme: id } ... on User { id handle memegraphId_User: id } }
          node { ... on Meme { id memegraphId_Meme: id } memegraphId: id memegraphType: __typename }
        }`),
      ),
    );
    expect(shape).toBeUndefined();
  });

  it('adds the id to a fragment used anywhere under an abstract type, and to an id under a directive', () => {
    const query = `
      query Both($all: Boolean!) { trending { ...M author { id @include(if: $all) handle } } found { ...M } }
      query Known { trending { ...M } }
      fragment M on Meme { id title }`;
    expect(print(tagged(query, 'Both').document)).toBe(
      print(
        parse(`
          query Both($all: Boolean!) {
            trending { ...M author { id @include(if: $all) handle memegraphId_User: id } memegraphId_Meme: id }
            found { ...M }
          }
          query Known { trending { ...M memegraphId_Meme: id } }
          fragment M on Meme { id title memegraphId_Meme: id }`),
      ),
    );
    // Used at known paths only in the operation executed, the fragment's id is read from the path.
    const known = tagged(query, 'Known');
    expect(print(known.document)).toContain('fragment M on Meme {\n  id\n  title\n}');
    expect([...withoutEntityIds({ trending: [{ id: '4', title: 't' }] }, known.shape).tags].sort()).toEqual([
      'Meme:4',
      'Meme:list',
    ]);
  });

  it('adds the id everywhere to an operation too large to read its paths', () => {
    // Each fragment spreads the next twice: 2^14 paths.
    const levels = 14;
    const fragments = Array.from({ length: levels }, (_, i) =>
      i % 2 === 0
        ? `fragment F${i} on Meme { id ${i + 1 < levels ? `a: author { ...F${i + 1} } b: author { ...F${i + 1} }` : ''} }`
        : `fragment F${i} on User { id ${i + 1 < levels ? `a: best { ...F${i + 1} } b: best { ...F${i + 1} }` : ''} }`,
    );
    const { document, shape } = tagged(`{ trending { ...F0 } } ${fragments.join(' ')}`);
    expect(shape).toBeUndefined();
    expect(print(document).match(/memegraphId_(Meme|User): id/g)).toHaveLength(1 + levels + (levels - 1) * 2);
  });
});
