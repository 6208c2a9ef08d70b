import { readFileSync } from 'node:fs';
import { Supergraph } from '@apollo/federation-internals';
import {
  Kind,
  buildSchema,
  getIntrospectionQuery,
  parse,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { prepareForGateway } from '../gateway/supergraph';
import { coerceVariables } from '../operation/walk';
import { SchemaPolicy } from '../policy/schemaPolicy';
import { actualCost, estimateCost, type CostOptions } from './calculate';

const supergraphSdl = readFileSync(new URL('../../../schema/supergraph.graphql', import.meta.url), 'utf8');
const memegraph = {
  schema: Supergraph.build(prepareForGateway(supergraphSdl)).apiSchema().toGraphQLJSSchema(),
  policy: SchemaPolicy.fromSupergraph(supergraphSdl),
};
const options: CostOptions = { defaultListSize: 10 };

interface Graph {
  schema: GraphQLSchema;
  policy: SchemaPolicy;
}

/** Parses and validates, so every document costed here is one the router would accept. */
function document(schema: GraphQLSchema, source: string) {
  const parsed = parse(source);
  expect(validate(schema, parsed).map((e) => e.message)).toEqual([]);
  return parsed;
}

/** The variables as the pipeline hands them over: coerced, defaults applied. */
function coerced(schema: GraphQLSchema, doc: DocumentNode, variables: Record<string, unknown> = {}) {
  const operation = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
  const result = coerceVariables(schema, operation, variables);
  if ('errors' in result) throw result.errors[0];
  return result.variables;
}

function estimate(source: string, variables?: Record<string, unknown>, graph: Graph = memegraph, opts = options) {
  const doc = document(graph.schema, source);
  return estimateCost({ ...graph, document: doc, variables: coerced(graph.schema, doc, variables) }, opts);
}

function actual(
  source: string,
  data: unknown,
  variables?: Record<string, unknown>,
  graph: Graph = memegraph,
  opts = options,
) {
  const doc = document(graph.schema, source);
  return actualCost({ ...graph, document: doc, variables: coerced(graph.schema, doc, variables), data }, opts);
}

describe('estimateCost on the Memegraph supergraph', () => {
  it('charges a list of objects by its slicing argument, leaves free', () => {
    expect(estimate('{ trending(first: 5) { id title } }')).toEqual({ cost: 5, nodeCount: 5 });
  });

  it('sizes the edges of a connection, not the connection', () => {
    // memes is one MemeConnection (1); @listSize(sizedFields: ["edges"]) gives
    // edges the size 10, each edge costing itself (1), its node (1), the node's
    // author (1) and template (1); pageInfo is one more object (1).
    // 1 + 10 × (1 + 1 + 1 + 1) + 1 = 42.
    const source = `{
      memes(first: 10) {
        edges { node { id author { handle } template { name } } }
        pageInfo { hasNextPage }
      }
    }`;
    expect(estimate(source)).toEqual({ cost: 42, nodeCount: 42 });
  });

  it('reads slicing arguments from variables, their defaults, and the schema default', () => {
    const source = 'query Top($n: Int) { trending(first: $n) { id } }';
    expect(estimate(source, { n: 3 }).cost).toBe(3);
    // Not sent: the argument is absent, so trending's default (first: Int = 10) applies.
    expect(estimate(source, {}).cost).toBe(10);
    // Sent as null: counted as absent too.
    expect(estimate(source, { n: null }).cost).toBe(10);
    expect(estimate('query Top($n: Int = 4) { trending(first: $n) { id } }', {}).cost).toBe(4);
    expect(estimate('query Top($n: Int = 4) { trending(first: $n) { id } }', { n: 6 }).cost).toBe(6);
  });

  it('uses the schema default when the slicing argument is omitted', () => {
    expect(estimate('{ trending { id } }').cost).toBe(10);
    // memes(first: Int = 20): 1 + 20 × (edge 1 + node 1).
    expect(estimate('{ memes { edges { node { id } } } }')).toEqual({ cost: 41, nodeCount: 41 });
  });

  it('uses assumedSize where there is no slicing argument', () => {
    expect(estimate('{ templates { id } }').cost).toBe(12);
    expect(estimate('{ plans { tier scopes } }').cost).toBe(4);
    // me (1) + usage(days: Int = 7) list of 7 objects + apiKeys, assumed at its bound of 20.
    expect(estimate('{ me { usage { day } apiKeys { id } } }').cost).toBe(1 + 7 + 20);
    expect(estimate('{ me { usage(days: 30) { day } } }').cost).toBe(31);
  });

  it('charges an empty page nothing', () => {
    expect(estimate('{ trending(first: 0) { id author { handle } } }')).toEqual({ cost: 0, nodeCount: 0 });
  });

  it('applies @cost to each item of a list: search weighs 5', () => {
    expect(estimate('{ search(text: "cat") { id } }').cost).toBe(20 * 5);
    expect(estimate('{ search(text: "cat", first: 2) { id author { handle } } }')).toEqual({
      cost: 2 * (5 + 1),
      nodeCount: 2 * 2,
    });
  });

  it('weighs @cost(weight: 0) at nothing but still counts its object', () => {
    expect(estimate('{ rateLimit { cost remaining } }')).toEqual({ cost: 0, nodeCount: 1 });
  });

  it('weighs root mutation fields 10, or their @cost', () => {
    expect(estimate('mutation { vote(memeId: "1", value: 1) { id score author { handle } } }')).toEqual({
      cost: 10 + 1,
      nodeCount: 2,
    });
    expect(estimate('mutation { generateMeme(input: { prompt: "cats" }) { id status meme { id } } }').cost).toBe(
      100 + 1,
    );
    expect(
      estimate('mutation { a: vote(memeId: "1", value: 1) { id } b: vote(memeId: "2", value: 1) { id } }').cost,
    ).toBe(20);
    // Fields of mutation results are ordinary fields: no 10 there.
    expect(estimate('mutation { signUp(handle: "a", password: "b") { token user { id } } }').cost).toBe(11);
  });

  it('multiplies nested lists', () => {
    // me 1 + connection 1 + 5 × (edge + node + author + inner connection + 3 × (edge + node)).
    const source = `{ me { memes(first: 5) { edges { node { author {
      memes(first: 3) { edges { node { id } } }
    } } } } } }`;
    expect(estimate(source).cost).toBe(1 + 1 + 5 * (4 + 3 * 2));
  });

  it('follows named and inline fragments and aliases', () => {
    const named = `{ trending(first: 2) { ...Parts } }
      fragment Parts on Meme { author { handle } template { name } }`;
    expect(estimate(named).cost).toBe(2 * 3);
    expect(estimate('{ trending(first: 2) { ... on Meme { author { id } } ... { template { id } } } }').cost).toBe(
      2 * 3,
    );
    expect(estimate('{ a: trending(first: 2) { id } b: trending(first: 3) { id } }').cost).toBe(5);
    // Sized fields are found through fragments too.
    const connection = `{ memes(first: 4) { ...Page } }
      fragment Page on MemeConnection { edges { node { id } } }`;
    expect(estimate(connection).cost).toBe(1 + 4 * 2);
  });

  it('costs a field selected twice under one response name once, as it is returned once', () => {
    expect(estimate('{ trending(first: 2) { author { id } } trending(first: 2) { template { id } } }').cost).toBe(
      2 * 3,
    );
    expect(
      estimate('{ trending(first: 2) { ...A ...A author { id } } } fragment A on Meme { author { id } }').cost,
    ).toBe(2 * 2);
  });

  it('costs skipped parts 0', () => {
    const source = `query Q($skip: Boolean!, $with: Boolean = false) {
      trending(first: 2) {
        id
        author @skip(if: $skip) { id }
        ...T @include(if: $with)
      }
    }
    fragment T on Meme { template { id } }`;
    expect(estimate(source, { skip: true }).cost).toBe(2);
    expect(estimate(source, { skip: false }).cost).toBe(4);
    expect(estimate(source, { skip: false, with: true }).cost).toBe(6);
    expect(estimate('{ trending(first: 2) { id author @include(if: false) { id } } }').cost).toBe(2);
  });

  it('costs introspection nothing', () => {
    expect(
      estimate('{ __typename __schema { types { name fields { name } } } __type(name: "Meme") { name } }'),
    ).toEqual({
      cost: 0,
      nodeCount: 0,
    });
    expect(estimate(getIntrospectionQuery())).toEqual({ cost: 0, nodeCount: 0 });
    expect(estimate('{ trending(first: 3) { __typename id } }').cost).toBe(3);
  });

  it('picks the operation by name and refuses an ambiguous or unknown one', () => {
    const source = 'query A { trending(first: 1) { id } } query B { trending(first: 2) { id } }';
    const input = { ...memegraph, document: document(memegraph.schema, source) };
    expect(estimateCost({ ...input, operationName: 'B' }, options).cost).toBe(2);
    expect(() => estimateCost(input, options)).toThrow(/operation name/);
    expect(() => estimateCost({ ...input, operationName: 'C' }, options)).toThrow(/Unknown operation named "C"/);
    expect(() => actualCost({ ...input, operationName: 'C', data: {} }, options)).toThrow(/Unknown operation/);
  });

  it('stays proportional to the document when fragments multiply the response', () => {
    // Each level selects the next one twice: 2^20 paths in the response, 20 fragments in the document.
    const levels = 20;
    const fragments = Array.from({ length: levels }, (_, i) =>
      i === levels - 1
        ? `fragment F${i} on User { id }`
        : `fragment F${i} on User {
            a: memes(first: 1) { edges { node { author { ...F${i + 1} } } } }
            b: memes(first: 1) { edges { node { author { ...F${i + 1} } } } }
          }`,
    );
    const source = `{ me { ...F0 } } ${fragments.join('\n')}`;
    const started = performance.now();
    // C(last) = 0, C(i) = 2 × (connection + edge + node + author + C(i + 1)) = 8 + 2 C(i + 1).
    const expected = 1 + 8 * (2 ** (levels - 1) - 1);
    expect(estimateCost({ ...memegraph, document: parse(source) }, options).cost).toBe(expected);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('refuses fragment cycles instead of looping', () => {
    const source = `{ me { ...A } }
      fragment A on User { memes { edges { node { author { ...B } } } } }
      fragment B on User { ...A }`;
    expect(() => estimateCost({ ...memegraph, document: parse(source) }, options)).toThrow(/within itself/);
  });

  it('refuses fields the schema does not have', () => {
    expect(() => estimateCost({ ...memegraph, document: parse('{ nope { id } }') }, options)).toThrow(
      /Cannot query field "nope"/,
    );
  });
});

describe('actualCost on the Memegraph supergraph', () => {
  it('charges the items returned, which can be fewer than requested', () => {
    const source = '{ trending(first: 5) { id title } }';
    const data = {
      trending: [
        { id: '1', title: 'a' },
        { id: '2', title: 'b' },
      ],
    };
    expect(estimate(source).cost).toBe(5);
    expect(actual(source, data)).toEqual({ cost: 2, nodeCount: 2 });
  });

  it('walks connections, aliases and nulls', () => {
    const source = `{
      page: memes(first: 10) {
        edges { node { id author { handle } template { name } } }
        pageInfo { hasNextPage }
      }
    }`;
    const edge = (id: string, author: { handle: string } | null) => ({ node: { id, author, template: { name: 't' } } });
    const data = {
      page: {
        edges: [edge('1', { handle: 'a' }), edge('2', { handle: 'b' }), edge('3', null)],
        pageInfo: { hasNextPage: false },
      },
    };
    // connection 1 + 2 full edges × 4 + one edge with a null author × 3 + pageInfo 1.
    const result = actual(source, data);
    expect(result).toEqual({ cost: 1 + 2 * 4 + 3 + 1, nodeCount: 13 });
    expect(result.cost).toBeLessThan(estimate(source).cost);
  });

  it('charges @cost and mutation weights per returned object, nothing for null', () => {
    expect(actual('{ search(text: "cat") { id } }', { search: [{ id: '1' }] }).cost).toBe(5);
    const vote = 'mutation { vote(memeId: "1", value: 1) { id author { handle } } }';
    expect(actual(vote, { vote: { id: '1', author: { handle: 'a' } } })).toEqual({ cost: 11, nodeCount: 2 });
    expect(actual('{ meme(id: "1") { id author { id } } }', { meme: null })).toEqual({ cost: 0, nodeCount: 0 });
    expect(actual(vote, null)).toEqual({ cost: 0, nodeCount: 0 });
  });

  it('follows fragments and leaves out what was skipped', () => {
    const source = `query Q($skip: Boolean!) {
      trending(first: 3) { ...M author @skip(if: $skip) { id } }
    }
    fragment M on Meme { t: template { id } }`;
    const data = { trending: [{ t: { id: 't1' } }, { t: { id: 't2' } }] };
    expect(actual(source, data, { skip: true })).toEqual({ cost: 2 * 2, nodeCount: 4 });
  });

  it('costs every answer to one document by its own data and @skip/@include outcome', () => {
    // One parsed document for every request, as Apollo Server hands it over: what is worked out for it is kept.
    const doc = document(
      memegraph.schema,
      `query Q($skip: Boolean!) {
        trending(first: 3) { ...M author @skip(if: $skip) { id } }
      }
      fragment M on Meme { t: template { id } }`,
    );
    const cost = (data: unknown, variables: Record<string, unknown>) =>
      actualCost({ ...memegraph, document: doc, variables: coerced(memegraph.schema, doc, variables), data }, options);
    const meme = (id: string) => ({ t: { id: `t${id}` }, author: { id: `u${id}` } });
    expect(cost({ trending: [meme('1'), meme('2')] }, { skip: false })).toEqual({ cost: 6, nodeCount: 6 });
    expect(cost({ trending: [meme('1'), meme('2')] }, { skip: true })).toEqual({ cost: 4, nodeCount: 4 });
    expect(cost({ trending: [meme('1')] }, { skip: false })).toEqual({ cost: 3, nodeCount: 3 });
    expect(cost({ trending: [meme('1'), { t: null, author: null }] }, { skip: false })).toEqual({
      cost: 4,
      nodeCount: 4,
    });
    expect(cost({ trending: [] }, { skip: true })).toEqual({ cost: 0, nodeCount: 0 });
    // Another policy (a reloaded supergraph) is read afresh.
    const heavier = SchemaPolicy.fromSupergraph(supergraphSdl.replace(/^type Meme$/m, 'type Meme @cost(weight: 5)'));
    expect(
      actualCost(
        {
          ...memegraph,
          policy: heavier,
          document: doc,
          variables: coerced(memegraph.schema, doc, { skip: true }),
          data: { trending: [meme('1')] },
        },
        options,
      ),
    ).toEqual({ cost: 6, nodeCount: 2 });
  });

  it('charges introspection nothing', () => {
    expect(
      actual('{ __typename __schema { queryType { name } } }', {
        __typename: 'Query',
        __schema: { queryType: { name: 'Query' } },
      }),
    ).toEqual({
      cost: 0,
      nodeCount: 0,
    });
  });
});

/** Shapes the Memegraph schema does not have: abstract types, nested list types, type weights. */
describe('cost rules on a schema with abstract types', () => {
  const sdl = `
    directive @cost(weight: Int!) on FIELD_DEFINITION | OBJECT | SCALAR | ENUM
    directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION
    type Query {
      things: [Thing!]!
      thing: Thing
      found: [Found!]! @listSize(assumedSize: 2)
      grid: [[Cell!]!]! @listSize(assumedSize: 2)
      report: Report
      window(first: Int, last: Int): [Cell!]! @listSize(slicingArguments: ["first", "last"], requireOneSlicingArgument: false)
    }
    interface Thing { id: ID! owner: Cell @cost(weight: 4) }
    type Cheap implements Thing { id: ID! owner: Cell }
    type Rich implements Thing { id: ID! owner: Cell parts: [Cell!]! @listSize(assumedSize: 3) }
    type Cell { id: ID! }
    type Report @cost(weight: 7) { id: ID! }
    union Found = Cheap | Report
  `;
  const graph: Graph = { schema: buildSchema(sdl), policy: SchemaPolicy.fromSupergraph(sdl) };
  const small = { defaultListSize: 4 };
  const est = (source: string) => estimate(source, undefined, graph, small);

  it('sizes lists without @listSize by defaultListSize', () => {
    expect(est('{ things { id } }')).toEqual({ cost: 4, nodeCount: 4 });
  });

  it('estimates an abstract type by its most expensive possibility', () => {
    // Cheap: 1. Rich: 1 + 3 parts.
    expect(est('{ thing { id ... on Rich { parts { id } } } }')).toEqual({ cost: 4, nodeCount: 4 });
    // owner inherits @cost(weight: 4) from the interface.
    expect(est('{ thing { owner { id } } }').cost).toBe(1 + 4);
    // Report weighs 7 (type-level @cost), Cheap 1: each of the 2 items may be a Report.
    expect(est('{ found { ... on Cheap { id } ... on Report { id } } }')).toEqual({ cost: 2 * 7, nodeCount: 2 });
  });

  it('applies a type weight and takes the largest slicing argument', () => {
    expect(est('{ report { id } }').cost).toBe(7);
    expect(est('{ window(first: 2, last: 5) { id } }').cost).toBe(5);
    expect(est('{ window { id } }').cost).toBe(4);
  });

  it('sizes the outer list of a list of lists by @listSize and the inner ones by default', () => {
    expect(est('{ grid { id } }').cost).toBe(2 * 4);
    expect(
      actual('{ grid { id } }', { grid: [[{ id: '1' }, { id: '2' }], [{ id: '3' }]] }, undefined, graph, small).cost,
    ).toBe(3);
  });

  it('finds the concrete type of an actual value by __typename, else charges the most it could be', () => {
    const source = '{ thing { kind: __typename id ... on Rich { parts { id } } } }';
    expect(actual(source, { thing: { kind: 'Rich', id: '1', parts: [{ id: 'a' }] } }, undefined, graph, small)).toEqual(
      {
        cost: 2,
        nodeCount: 2,
      },
    );
    const untyped = '{ found { ... on Report { id } } }';
    expect(actual(untyped, { found: [{ id: '1' }, {}] }, undefined, graph, small).cost).toBe(14);
    expect(
      actual(
        '{ found { t: __typename ... on Report { id } } }',
        { found: [{ t: 'Report', id: '1' }, { t: 'Cheap' }] },
        undefined,
        graph,
        small,
      ).cost,
    ).toBe(7 + 1);
  });
});
