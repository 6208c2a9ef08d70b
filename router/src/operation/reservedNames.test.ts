import { buildSchema, parse, specifiedRules, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { ENTITY_ID, ENTITY_ID_OF, ENTITY_TYPE } from '../cache/entities';
import { ReservedNamesRule } from './reservedNames';
import { PLACEHOLDER } from './rewrite';

const schema = buildSchema(`
  type Query { trending: [Meme!]! memegraphStats: Int }
  interface Node { id: ID! }
  type Meme implements Node { id: ID! title: String! author: User! }
  type User implements Node { id: ID! handle: String! }
`);

/** The messages of the reserved-name refusals of a document (other validation errors left out). */
const refusals = (query: string) =>
  validate(schema, parse(query), [ReservedNamesRule]).map((error) => {
    expect(error.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    return error.message;
  });

describe('ReservedNamesRule', () => {
  it('covers every name the router adds', () => {
    for (const added of [ENTITY_ID, ENTITY_TYPE, `${ENTITY_ID_OF}Meme`, PLACEHOLDER]) {
      expect(refusals(`{ trending { ${added}: title } }`), added).toEqual([
        `Alias "${added}" begins with "memegraph", a prefix the router reserves for its own names: choose another.`,
      ]);
    }
  });

  it('reads every selection: nested, in named and inline fragments, in every operation of the document', () => {
    const query = `
      query A { trending { author { memegraphAuthor: handle } ...M ... on Meme { memegraphInline: id } } }
      query B { trending { memegraphB: id } }
      fragment M on Meme { memegraphNamed: title }`;
    expect(refusals(query).map((message) => /"(\w+)"/.exec(message)![1])).toEqual([
      'memegraphAuthor',
      'memegraphInline',
      'memegraphB',
      'memegraphNamed',
    ]);
  });

  it('refuses a field of the schema named with the prefix, and leaves an unknown one to FieldsOnCorrectTypeRule', () => {
    expect(refusals('{ memegraphStats }')).toEqual([expect.stringMatching(/^Field "memegraphStats" begins with/)]);
    const unknown = validate(schema, parse('{ memegraphNope }'), [...specifiedRules, ReservedNamesRule]);
    expect(unknown.map((error) => error.message)).toEqual([
      expect.stringMatching(/^Cannot query field "memegraphNope" on type "Query"\./),
    ]);
  });

  it('refuses a variable named with the prefix: the router adds one to a subscription event’s query', () => {
    expect(refusals('query($memegraphGenerationId: ID) { trending { id } }')).toEqual([
      expect.stringMatching(/^Variable "\$memegraphGenerationId" begins with "memegraph"/),
    ]);
  });

  it('is case-sensitive, as the router’s own comparisons are, and only reads the start of a name', () => {
    expect(refusals('query($Memegraph: ID) { trending { MemegraphId: id MEMEGRAPH: title idmemegraph: id } }')).toEqual(
      [],
    );
  });
});
