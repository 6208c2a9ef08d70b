import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routerClient } from './support/client';
import { GENEROUS_ANONYMOUS, startStack, type Stack } from './support/stack';

let stack: Stack;
let anonymous: ReturnType<typeof routerClient>;

beforeAll(async () => {
  // Pages of 100 cost more than an anonymous viewer may spend; these tests are about browsing.
  stack = await startStack({ users: 20, memes: 200, routerEnv: { TIERS_JSON: GENEROUS_ANONYMOUS } });
  anonymous = routerClient(stack.routerUrl);
});
afterAll(() => stack?.close());

interface MemePage {
  memes: {
    edges: {
      cursor: string;
      node: { id: string; title: string; author: { handle: string }; template: { name: string } };
    }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

const PAGE = /* GraphQL */ `
  query Page($first: Int, $after: String, $tag: String) {
    memes(first: $first, after: $after, tag: $tag) {
      edges {
        cursor
        node {
          id
          title
          tags
          author {
            handle
          }
          template {
            name
          }
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`;

describe('anonymous browsing through the router', () => {
  it('pages through memes with opaque cursors, newest first, author and template resolved across subgraphs', async () => {
    const first = await anonymous<MemePage>(PAGE, { first: 5 });
    expect(first.status).toBe(200);
    expect(first.body.errors).toBeUndefined();
    const page1 = first.body.data!.memes;
    expect(page1.edges).toHaveLength(5);
    expect(page1.pageInfo.hasNextPage).toBe(true);
    for (const edge of page1.edges) {
      expect(edge.node.author.handle).toMatch(/^[a-z]+_[a-z]+_\d+$/);
      expect(edge.node.template.name.length).toBeGreaterThan(0);
      expect(edge.cursor).not.toContain(edge.node.id);
    }

    const second = await anonymous<MemePage>(PAGE, { first: 5, after: page1.pageInfo.endCursor });
    const page2 = second.body.data!.memes;
    const ids = [...page1.edges, ...page2.edges].map((e) => Number(e.node.id));
    expect(new Set(ids).size).toBe(10);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
  });

  it('reaches the end of the catalog with hasNextPage false', async () => {
    let after: string | null = null;
    let seen = 0;
    for (let i = 0; i < 10; i++) {
      const response = await anonymous<MemePage>(PAGE, { first: 100, after });
      const page: MemePage['memes'] = response.body.data!.memes;
      seen += page.edges.length;
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    // Anonymous viewers see every human meme and no AI meme.
    const [human] = await stack.dbs.memes.query<{ n: string }>(
      `SELECT count(*) AS n FROM memes WHERE origin = 'HUMAN'`,
    );
    expect(seen).toBe(Number(human!.n));
  });

  it('rejects a forged cursor and an oversized page with BAD_USER_INPUT', async () => {
    const forged = await anonymous(PAGE, { first: 5, after: 'not-a-cursor' });
    expect(forged.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const huge = await anonymous(PAGE, { first: 5000 });
    expect(huge.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(huge.status).toBe(400);
  });

  it('lists trending memes by score, highest first', async () => {
    const response = await anonymous<{ trending: { id: string; score: number }[] }>(
      `{ trending(first: 10) { id score } }`,
    );
    const scores = response.body.data!.trending.map((m) => m.score);
    expect(scores).toHaveLength(10);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
  });

  it('finds memes by full-text search, and every hit contains the word', async () => {
    const pick = await anonymous<{ memes: { edges: { node: { title: string } }[] } }>(
      `{ memes(first: 1) { edges { node { title } } } }`,
    );
    const word = pick.body.data!.memes.edges[0]!.node.title.split(/\s+/).find((w) => /^[A-Za-z]{4,}$/.test(w))!;
    const response = await anonymous<{
      search: { title: string; topText: string; bottomText: string; tags: string[] }[];
    }>(`query($text: String!) { search(text: $text, first: 20) { title topText bottomText tags } }`, { text: word });
    const hits = response.body.data!.search;
    expect(hits.length).toBeGreaterThan(0);
    for (const hit of hits) {
      expect(`${hit.title} ${hit.topText} ${hit.bottomText} ${hit.tags.join(' ')}`.toLowerCase()).toContain(
        word.toLowerCase().slice(0, 4),
      );
    }
  });

  it('serves a random meme and the plans table', async () => {
    const response = await anonymous<{
      randomMeme: { id: string };
      plans: { tier: string; maxCostPerOperation: number }[];
    }>(`{ randomMeme { id } plans { tier maxCostPerOperation } }`);
    expect(response.body.data!.randomMeme.id).toMatch(/^\d+$/);
    expect(response.body.data!.plans.map((p) => p.tier)).toEqual(['ANONYMOUS', 'FREE', 'PREMIUM', 'ENTERPRISE']);
  });
});

describe('GraphQL over HTTP at the router', () => {
  it('answers GET queries and honours application/graphql-response+json', async () => {
    const url = `${stack.routerUrl}/graphql?query=${encodeURIComponent('{ trending(first: 1) { id } }')}`;
    const response = await fetch(url, {
      headers: { accept: 'application/graphql-response+json', 'apollo-require-preflight': 'true' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('application/graphql-response+json');
    const body = (await response.json()) as { data: { trending: unknown[] } };
    expect(body.data.trending).toHaveLength(1);
  });

  it('refuses mutations over GET', async () => {
    const url = `${stack.routerUrl}/graphql?query=${encodeURIComponent('mutation { cancelSubscription { id } }')}`;
    const response = await fetch(url, { headers: { 'apollo-require-preflight': 'true' } });
    expect(response.status).toBe(405);
  });

  it('gives 400 with GRAPHQL_PARSE_FAILED and GRAPHQL_VALIDATION_FAILED', async () => {
    const parse = await anonymous('{ memes(first: 1 { edges }');
    expect(parse.status).toBe(400);
    expect(parse.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    const validation = await anonymous('{ memes { nope } }');
    expect(validation.status).toBe(400);
    expect(validation.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('gives 400 BAD_REQUEST for malformed JSON, with no stack trace', async () => {
    const response = await fetch(`${stack.routerUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query": ',
    });
    expect(response.status).toBe(400);
    const text = await response.text();
    expect(JSON.parse(text).errors[0].extensions.code).toBe('BAD_REQUEST');
    expect(text).not.toMatch(/at .*\.ts:\d+/);
  });

  it('refuses bodies over the limit with 413', async () => {
    const response = await fetch(`${stack.routerUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ trending { id } }`, variables: { pad: 'x'.repeat(600 * 1024) } }),
    });
    expect(response.status).toBe(413);
  });

  it('supports introspection for schema tools and serves the public SDL', async () => {
    const introspection = await anonymous<{ __schema: { queryType: { name: string }; types: { name: string }[] } }>(
      `{ __schema { queryType { name } types { name } } }`,
    );
    const names = introspection.body.data!.__schema.types.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['Meme', 'User', 'Generation', 'Template']));
    expect(names).not.toContain('_Entity');
    const sdl = await fetch(`${stack.routerUrl}/schema.graphql`);
    expect(sdl.status).toBe(200);
    const text = await sdl.text();
    expect(text).toContain('type Meme');
    expect(text).not.toContain('join__');
  });
});
