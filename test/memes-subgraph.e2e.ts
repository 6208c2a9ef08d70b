import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  VIEWER_HEADER,
  createLogger,
  migrate,
  openDb,
  secretKey,
  serviceViewer,
  signViewer,
  type Db,
  type SubgraphServer,
  type Viewer,
} from '@memegraph/service-kit';
import { MIGRATIONS_DIR, createMemesServer, seedMemes } from '@memegraph/memes';
import { createTestDatabase, type TestDatabase } from './support/database';

const SECRET = 'memes-e2e-signing-secret-0123456789abcdef';
const USERS = 20;
const MEMES = 200;

const anonymous: Viewer = { kind: 'anonymous', tier: 'anonymous', scopes: [] };
const free = (userId = '3'): Viewer => ({ kind: 'user', userId, tier: 'free', scopes: ['memes:read', 'memes:write'] });
const premium = (userId = '4'): Viewer => ({
  kind: 'user',
  userId,
  tier: 'premium',
  scopes: ['memes:read', 'memes:write', 'memes:ai'],
});
const readOnly: Viewer = { kind: 'user', userId: '5', tier: 'free', scopes: ['memes:read'] };

interface GraphQLError {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string };
}
interface GraphQLResponse<T> {
  status: number;
  data: T;
  errors: GraphQLError[] | undefined;
}
interface MemeNode {
  id: string;
  title: string;
  origin?: 'HUMAN' | 'AI';
  score?: number;
  viewerVote?: number | null;
  imageUrl?: string;
  tags?: string[];
  topText?: string;
  bottomText?: string;
}
interface Connection {
  edges: { cursor: string; node: MemeNode }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

let database: TestDatabase;
let db: Db;
let server: SubgraphServer;
let url: string;
let aiIds: string[];
let humanCount: number;

beforeAll(async () => {
  database = await createTestDatabase();
  db = await openDb({ schema: 'memes', databaseUrl: database.url });
  await migrate(db, MIGRATIONS_DIR);
  await seedMemes(db, { users: USERS, memes: MEMES });
  server = await createMemesServer({ db, signingSecret: SECRET, log: createLogger('memes-e2e', 'silent') });
  url = await server.listen(0, '127.0.0.1');
  aiIds = (await db.query<{ id: string }>(`SELECT id FROM memes WHERE origin = 'AI' ORDER BY id`)).map((r) => r.id);
  const [count] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM memes WHERE origin = 'HUMAN'`);
  humanCount = count!.n;
});

afterAll(async () => {
  await server?.close();
  await db?.close();
  await database?.drop();
});

const sign = (viewer: Viewer, ttlSeconds?: number) => signViewer(viewer, secretKey(SECRET), ttlSeconds);

async function post(path: string, headers: Record<string, string>, body: unknown): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

async function gql<T>(
  viewer: Viewer,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GraphQLResponse<T>> {
  const response = await post('/graphql', { [VIEWER_HEADER]: await sign(viewer) }, { query, variables });
  const body = (await response.json()) as { data: T; errors?: GraphQLError[] };
  return { status: response.status, data: body.data, errors: body.errors };
}

/** Like `gql`, but a response with errors fails the test with them. */
async function ok<T>(viewer: Viewer, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const result = await gql<T>(viewer, query, variables);
  expect(result.errors).toBeUndefined();
  return result.data;
}

const codes = (result: { errors?: GraphQLError[] | undefined }) => (result.errors ?? []).map((e) => e.extensions?.code);

const ENTITIES = `query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Meme { id title origin template { id name } author { id } }
    ... on Template { id name imageUrl }
    ... on User { id memes(first: 3) { edges { node { id origin } } pageInfo { hasNextPage } } }
  }
}`;

describe('viewer header', () => {
  const query = JSON.stringify({ query: '{ templates { id } }' });
  const call = (headers: Record<string, string>) =>
    fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: query,
    });

  it('refuses a call without the router-signed header', async () => {
    const response = await call({});
    expect(response.status).toBe(401);
    expect(((await response.json()) as { errors: GraphQLError[] }).errors[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('refuses a header signed with another secret', async () => {
    const forged = await signViewer(premium(), secretKey('not-the-router-secret-0123456789abcdef'));
    const response = await call({ [VIEWER_HEADER]: forged });
    expect(response.status).toBe(401);
  });

  it('refuses an expired header', async () => {
    const response = await call({ [VIEWER_HEADER]: await sign(premium(), -30) });
    expect(response.status).toBe(401);
    expect(await response.text()).toContain('expired');
  });

  it('serves a valid one, and /health needs none', async () => {
    const response = await call({ [VIEWER_HEADER]: await sign(anonymous) });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { data: { templates: unknown[] } };
    expect(body.data.templates).toHaveLength(12);
    expect((await fetch(`${url}/health`)).status).toBe(200);
  });
});

describe('_entities', () => {
  it('publishes its federated SDL for composition', async () => {
    const data = await ok<{ _service: { sdl: string } }>(anonymous, '{ _service { sdl } }');
    expect(data._service.sdl).toMatch(/type Meme\s+@key\(fields: "id"\)/);
    expect(data._service.sdl).toMatch(/type User\s+@key\(fields: "id"\)/);
  });

  it('resolves Meme, Template and User representations as the router sends them, null for unknown ids', async () => {
    const data = await ok<{ _entities: (Record<string, unknown> | null)[] }>(free(), ENTITIES, {
      representations: [
        { __typename: 'Meme', id: '1' },
        { __typename: 'Template', id: '2' },
        { __typename: 'User', id: '5' },
        { __typename: 'Meme', id: '999999' },
        { __typename: 'Template', id: '999' },
      ],
    });
    const [meme, template, user, missingMeme, missingTemplate] = data._entities;
    const [row] = await db.query<{ title: string; template_id: string; author_id: string }>(
      'SELECT title, template_id, author_id FROM memes WHERE id = 1',
    );
    expect(meme).toMatchObject({
      __typename: 'Meme',
      id: '1',
      title: row!.title,
      origin: 'HUMAN',
      author: { id: row!.author_id },
    });
    expect((meme as { template: { id: string } }).template.id).toBe(row!.template_id);
    expect(template).toEqual({
      __typename: 'Template',
      id: '2',
      name: 'This Is Fine',
      imageUrl: `${url}/images/templates/2.svg`,
    });
    const expected = await db.query<{ id: string }>(
      `SELECT id FROM memes WHERE author_id = 5 AND origin = 'HUMAN' ORDER BY id DESC LIMIT 3`,
    );
    expect(user).toMatchObject({ __typename: 'User', id: '5' });
    expect((user as { memes: Connection }).memes.edges.map((e) => e.node.id)).toEqual(expected.map((r) => r.id));
    expect(missingMeme).toBeNull();
    expect(missingTemplate).toBeNull();
  });

  it('costs the same number of SQL statements for 100 memes as for 10', async () => {
    const query = `query($representations: [_Any!]!) {
      _entities(representations: $representations) {
        ... on Meme { id title viewerVote template { id name } author { id memes(first: 2) { edges { node { id title } } } } }
      }
    }`;
    const statementsFor = async (count: number) => {
      const representations = Array.from({ length: count }, (_, i) => ({ __typename: 'Meme', id: String(i + 1) }));
      const before = db.stats.statements;
      const data = await ok<{ _entities: ({ id: string } | null)[] }>(premium(), query, { representations });
      expect(data._entities.filter(Boolean)).toHaveLength(count);
      return db.stats.statements - before;
    };
    const ten = await statementsFor(10);
    const hundred = await statementsFor(100);
    expect(hundred).toBe(ten);
    // Memes with their templates' names (one statement), the viewer's votes, the authors' pages.
    expect(ten).toBe(3);
  });

  it("answers a meme's template whether its statement read the template's name or not", async () => {
    // randomMeme reads the meme alone (the template loader fetches its template); trending reads the name along.
    const data = await ok<{
      randomMeme: { id: string; template: { id: string; name: string } };
      trending: { id: string; template: { id: string; name: string } }[];
    }>(anonymous, '{ randomMeme { id template { id name } } trending(first: 5) { id template { id name } } }');
    const [random] = await db.query<{ id: string; name: string }>(
      'SELECT t.id, t.name FROM memes m JOIN templates t ON t.id = m.template_id WHERE m.id = $1',
      [data.randomMeme.id],
    );
    expect(data.randomMeme.template).toEqual({ id: random!.id, name: random!.name });
    const trending = await db.query<{ id: string; template_id: string; name: string }>(
      `SELECT m.id, t.id AS template_id, t.name FROM memes m JOIN templates t ON t.id = m.template_id
        WHERE m.id = ANY($1::bigint[])`,
      [data.trending.map((m) => m.id)],
    );
    const expected = new Map(trending.map((row) => [row.id, { id: row.template_id, name: row.name }]));
    expect(data.trending).toHaveLength(5);
    for (const meme of data.trending) expect(meme.template).toEqual(expected.get(meme.id));
  });
});

describe('AI memes', () => {
  it('exist in the seeded catalog', () => {
    expect(aiIds.length).toBeGreaterThan(0);
  });

  for (const [name, viewer] of [
    ['anonymous', anonymous],
    ['free', free()],
  ] as const) {
    it(`never reach a ${name} viewer, through any path`, async () => {
      const aiId = aiIds[0]!;
      const [ai] = await db.query<{ author_id: string; top_text: string }>(
        'SELECT author_id, top_text FROM memes WHERE id = $1',
        [aiId],
      );
      const randomAliases = Array.from({ length: 40 }, (_, i) => `r${i}: randomMeme { id origin }`).join('\n');
      const data = await ok<{
        meme: MemeNode | null;
        memes: Connection;
        feed: Connection;
        trending: MemeNode[];
        search: MemeNode[];
        tagged: Connection;
        [alias: string]: unknown;
      }>(
        viewer,
        `query($id: ID!, $text: String!) {
          meme(id: $id) { id }
          memes(first: 100) { edges { node { id origin } } }
          feed(first: 100) { edges { node { id origin } } }
          trending(first: 100) { id origin }
          search(text: $text, first: 100) { id origin }
          tagged: memes(first: 100, tag: "cats") { edges { node { id origin } } }
          ${randomAliases}
        }`,
        { id: aiId, text: ai!.top_text },
      );
      expect(data.meme).toBeNull();
      const seen = [
        ...data.memes.edges.map((e) => e.node),
        ...data.feed.edges.map((e) => e.node),
        ...data.tagged.edges.map((e) => e.node),
        ...data.trending,
        ...data.search,
        ...Array.from({ length: 40 }, (_, i) => data[`r${i}`] as MemeNode),
      ];
      expect(seen.length).toBeGreaterThan(300);
      expect(seen.filter((m) => m.origin !== 'HUMAN')).toEqual([]);
      expect(seen.filter((m) => aiIds.includes(m.id))).toEqual([]);

      const entities = await ok<{ _entities: unknown[] }>(viewer, ENTITIES, {
        representations: [
          ...aiIds.map((id) => ({ __typename: 'Meme', id })),
          { __typename: 'User', id: ai!.author_id },
        ],
      });
      expect(entities._entities.slice(0, aiIds.length)).toEqual(aiIds.map(() => null));
      const author = entities._entities.at(-1) as { memes: Connection };
      expect(author.memes.edges.every((e) => e.node.origin === 'HUMAN')).toBe(true);

      const image = await fetch(`${url}/images/${aiId}.svg`);
      expect(image.status).toBe(404);
    });
  }

  it('vote on one is refused for a free viewer as if it did not exist', async () => {
    const result = await gql(free('801'), 'mutation($id: ID!) { vote(memeId: $id, value: 1) { id score } }', {
      id: aiIds[0],
    });
    expect(codes(result)).toEqual(['BAD_USER_INPUT']);
    const [votes] = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM votes WHERE meme_id = $1 AND user_id = 801',
      [aiIds[0]],
    );
    expect(votes!.n).toBe(0);
  });

  it('reach premium viewers, with a signed image URL that is the only way to the image', async () => {
    const aiId = aiIds[0]!;
    const [ai] = await db.query<{ top_text: string }>('SELECT top_text FROM memes WHERE id = $1', [aiId]);
    const data = await ok<{ meme: MemeNode; feed: Connection; search: MemeNode[]; _entities: (MemeNode | null)[] }>(
      premium(),
      `query($id: ID!, $text: String!, $representations: [_Any!]!) {
        meme(id: $id) { id origin imageUrl }
        feed(first: 100) { edges { node { id origin } } }
        search(text: $text, first: 100) { id }
        _entities(representations: $representations) { ... on Meme { id origin } }
      }`,
      { id: aiId, text: ai!.top_text, representations: [{ __typename: 'Meme', id: aiId }] },
    );
    expect(data.meme.origin).toBe('AI');
    expect(data.search.map((m) => m.id)).toContain(aiId);
    expect(data._entities).toEqual([{ id: aiId, origin: 'AI' }]);
    expect(data.feed.edges.some((e) => e.node.origin === 'AI')).toBe(true);

    const imageUrl = new URL(data.meme.imageUrl!);
    expect(`${imageUrl.origin}${imageUrl.pathname}`).toBe(`${url}/images/${aiId}.svg`);
    expect(imageUrl.searchParams.get('sig')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await fetch(imageUrl)).status).toBe(200);
    expect((await fetch(`${url}/images/${aiId}.svg?sig=${'A'.repeat(43)}`)).status).toBe(404);
    // A signature is for one meme only.
    expect((await fetch(`${url}/images/${aiIds[1]}.svg${imageUrl.search}`)).status).toBe(404);
  });
});

describe('lists', () => {
  it('pages through every visible meme newest first with opaque cursors', async () => {
    const ids: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const data: { memes: Connection } = await ok(
        anonymous,
        'query($after: String) { memes(first: 50, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }',
        {
          after,
        },
      );
      const { edges, pageInfo } = data.memes;
      pages++;
      expect(pageInfo.hasPreviousPage).toBe(after !== null);
      expect(pageInfo.startCursor).toBe(edges[0]?.cursor ?? null);
      expect(pageInfo.endCursor).toBe(edges.at(-1)?.cursor ?? null);
      for (const edge of edges) expect(edge.cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      ids.push(...edges.map((e) => e.node.id));
      if (!pageInfo.hasNextPage) break;
      after = pageInfo.endCursor;
    }
    expect(pages).toBe(Math.ceil(humanCount / 50));
    expect(ids).toHaveLength(humanCount);
    expect(new Set(ids).size).toBe(humanCount);
    const numeric = ids.map(Number);
    expect(numeric).toEqual([...numeric].sort((a, b) => b - a));
  });

  it('filters by tag', async () => {
    const data = await ok<{ memes: Connection }>(
      anonymous,
      '{ memes(first: 100, tag: "Cats") { edges { node { id tags } } } }',
    );
    const [count] = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM memes WHERE 'cats' = ANY(tags) AND origin = 'HUMAN'`,
    );
    expect(data.memes.edges).toHaveLength(Math.min(100, count!.n));
    expect(data.memes.edges.every((e) => e.node.tags!.includes('cats'))).toBe(true);
  });

  it('answers BAD_USER_INPUT for a bad cursor or page size', async () => {
    expect(codes(await gql(anonymous, '{ memes(after: "bm9wZQ") { edges { cursor } } }'))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gql(anonymous, '{ memes(first: 1000) { edges { cursor } } }'))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gql(anonymous, '{ feed(first: -1) { edges { cursor } } }'))).toEqual(['BAD_USER_INPUT']);
  });

  it('ranks trending by score', async () => {
    const data = await ok<{ trending: MemeNode[] }>(anonymous, '{ trending(first: 10) { id score } }');
    const expected = await db.query<{ id: string }>(
      `SELECT id FROM memes WHERE origin = 'HUMAN' ORDER BY score DESC, id DESC LIMIT 10`,
    );
    expect(data.trending.map((m) => m.id)).toEqual(expected.map((r) => r.id));
  });

  it('searches titles, captions and tags', async () => {
    const data = await ok<{ search: MemeNode[] }>(
      anonymous,
      '{ search(text: "coffee", first: 50) { id title topText bottomText tags } }',
    );
    expect(data.search.length).toBeGreaterThan(0);
    for (const meme of data.search) {
      expect([meme.title, meme.topText, meme.bottomText, ...meme.tags!].join(' ').toLowerCase()).toContain('coffee');
    }
    expect(codes(await gql(anonymous, '{ search(text: "   ") { id } }'))).toEqual(['BAD_USER_INPUT']);
  });

  it('lists templates with their art URLs', async () => {
    const data = await ok<{ templates: { id: string; name: string; imageUrl: string }[]; template: { name: string } }>(
      anonymous,
      '{ templates { id name imageUrl } template(id: "3") { name } }',
    );
    expect(data.templates).toHaveLength(12);
    expect(new Set(data.templates.map((t) => t.name)).size).toBe(12);
    expect(data.template.name).toBe('Two Buttons');
  });
});

describe('vote', () => {
  const VOTE = 'mutation($id: ID!, $value: Int!) { vote(memeId: $id, value: $value) { id score viewerVote } }';
  const score = async (id: string) =>
    (await db.query<{ score: number }>('SELECT score FROM memes WHERE id = $1', [id]))[0]!.score;

  it('counts, changes and takes back a vote', async () => {
    const viewer = free('501');
    const before = await score('10');
    const up = await ok<{ vote: MemeNode }>(viewer, VOTE, { id: '10', value: 1 });
    expect(up.vote).toEqual({ id: '10', score: before + 1, viewerVote: 1 });
    const down = await ok<{ vote: MemeNode }>(viewer, VOTE, { id: '10', value: -1 });
    expect(down.vote).toEqual({ id: '10', score: before - 1, viewerVote: -1 });
    const again = await ok<{ vote: MemeNode }>(viewer, VOTE, { id: '10', value: -1 });
    expect(again.vote.score).toBe(before - 1);
    const removed = await ok<{ vote: MemeNode }>(viewer, VOTE, { id: '10', value: 0 });
    expect(removed.vote).toEqual({ id: '10', score: before, viewerVote: null });
    expect(await score('10')).toBe(before);
    const read = await ok<{ meme: MemeNode }>(viewer, '{ meme(id: "10") { viewerVote } }');
    expect(read.meme.viewerVote).toBeNull();
  });

  it('keeps the score equal to the sum of votes under concurrent voting', async () => {
    const before = await score('11');
    await Promise.all([
      ...Array.from({ length: 20 }, (_, i) =>
        ok(free(String(600 + i)), VOTE, { id: '11', value: i % 4 === 0 ? -1 : 1 }),
      ),
      ...Array.from({ length: 10 }, () => ok(free('700'), VOTE, { id: '11', value: 1 })),
    ]);
    const [sum] = await db.query<{ total: number }>(
      'SELECT COALESCE(sum(value), 0)::int AS total FROM votes WHERE meme_id = 11',
    );
    expect(await score('11')).toBe(sum!.total);
    expect(await score('11')).toBe(before + 15 - 5 + 1);
  });

  it('refuses bad values, unknown memes and viewers who may not vote', async () => {
    expect(codes(await gql(free(), VOTE, { id: '10', value: 2 }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gql(free(), VOTE, { id: '987654', value: 1 }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gql(anonymous, VOTE, { id: '10', value: 1 }))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await gql(readOnly, VOTE, { id: '10', value: 1 }))).toEqual(['FORBIDDEN']);
  });
});

describe('createMeme', () => {
  const CREATE = `mutation($input: CreateMemeInput!) {
    createMeme(input: $input) { id title topText bottomText tags origin score author { id } template { id } imageUrl }
  }`;
  const input = {
    title: 'Fresh meme',
    topText: 'When the tests pass',
    bottomText: 'On the first try',
    templateId: '4',
    tags: ['Coding', 'dev-life'],
  };

  it('creates a meme by the signed-in user, newest first in the catalog', async () => {
    const data = await ok<{ createMeme: MemeNode & { author: { id: string }; template: { id: string } } }>(
      free('7'),
      CREATE,
      { input },
    );
    expect(data.createMeme).toMatchObject({
      title: 'Fresh meme',
      topText: 'When the tests pass',
      tags: ['coding', 'dev-life'],
      origin: 'HUMAN',
      score: 0,
      author: { id: '7' },
      template: { id: '4' },
      imageUrl: `${url}/images/${data.createMeme.id}.svg`,
    });
    expect(Number(data.createMeme.id)).toBeGreaterThan(MEMES);
    const newest = await ok<{ memes: Connection }>(anonymous, '{ memes(first: 1) { edges { node { id } } } }');
    expect(newest.memes.edges[0]!.node.id).toBe(data.createMeme.id);
  });

  it.each([
    ['an empty title', { title: '  ' }],
    ['a title over 120 characters', { title: 'x'.repeat(121) }],
    ['a caption over 120 characters', { bottomText: 'y'.repeat(121) }],
    ['more than 10 tags', { tags: Array.from({ length: 11 }, (_, i) => `tag${i}`) }],
    ['a tag with bad characters', { tags: ['not ok!'] }],
    ['a tag over 32 characters', { tags: ['a'.repeat(33)] }],
    ['an unknown template', { templateId: '9999' }],
    ['a malformed template id', { templateId: 'abc' }],
  ])('refuses %s with BAD_USER_INPUT', async (_name, change) => {
    const [before] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM memes');
    const result = await gql(free(), CREATE, { input: { ...input, ...change } });
    expect(codes(result)).toEqual(['BAD_USER_INPUT']);
    const [after] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM memes');
    expect(after!.n).toBe(before!.n);
  });

  it('needs a signed-in user with memes:write', async () => {
    expect(codes(await gql(anonymous, CREATE, { input }))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await gql(readOnly, CREATE, { input }))).toEqual(['FORBIDDEN']);
  });
});

describe('images', () => {
  it('renders a meme as SVG with long-lived caching and an ETag', async () => {
    const [row] = await db.query<{ top_text: string }>('SELECT top_text FROM memes WHERE id = 1');
    const response = await fetch(`${url}/images/1.svg`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const etag = response.headers.get('etag');
    expect(etag).toMatch(/^".+"$/);
    const svg = await response.text();
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    const firstWord = row!.top_text.split(' ')[0]!.toUpperCase().replace(/"/g, '&quot;');
    expect(svg).toContain(firstWord);

    const again = await fetch(`${url}/images/1.svg`, { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
    expect(again.headers.get('etag')).toBe(etag);
    expect(await again.text()).toBe('');
  });

  it('escapes captions a user wrote', async () => {
    const created = await ok<{ createMeme: MemeNode }>(
      free('8'),
      'mutation($input: CreateMemeInput!) { createMeme(input: $input) { imageUrl } }',
      { input: { title: 'xss', topText: '<script>alert(1)</script>', bottomText: 'a & b', templateId: '1' } },
    );
    const svg = await (await fetch(created.createMeme.imageUrl!)).text();
    expect(svg).not.toMatch(/<script/i);
    expect(svg).toContain('&lt;SCRIPT&gt;');
    expect(svg).toContain('A &amp; B');
  });

  it('serves template art and 404 for unknown ids', async () => {
    const template = await fetch(`${url}/images/templates/5.svg`);
    expect(template.status).toBe(200);
    expect(template.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    expect(await template.text()).toContain('Distracted Glance');
    expect((await fetch(`${url}/images/999999.svg`)).status).toBe(404);
    expect((await fetch(`${url}/images/templates/999.svg`)).status).toBe(404);
  });
});

describe('internal endpoints', () => {
  const asService = async () => ({ [VIEWER_HEADER]: await sign(serviceViewer('ai')) });

  it('are closed to anyone but services', async () => {
    expect((await fetch(`${url}/internal/templates`)).status).toBe(401);
    expect(
      (await fetch(`${url}/internal/templates`, { headers: { [VIEWER_HEADER]: await sign(premium()) } })).status,
    ).toBe(403);
  });

  it('list templates and a template’s best human captions', async () => {
    const templates = (await (await fetch(`${url}/internal/templates`, { headers: await asService() })).json()) as {
      templates: { id: string; name: string }[];
    };
    expect(templates.templates).toHaveLength(12);
    expect(templates.templates[0]).toEqual({ id: '1', name: 'Galaxy Brain' });

    const response = await fetch(`${url}/internal/templates/3/captions`, { headers: await asService() });
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      template: { id: string; name: string };
      captions: { topText: string; bottomText: string }[];
    };
    const expected = await db.query<{ topText: string; bottomText: string }>(
      `SELECT top_text AS "topText", bottom_text AS "bottomText" FROM memes
        WHERE template_id = 3 AND origin = 'HUMAN' ORDER BY score DESC, id DESC LIMIT 50`,
    );
    expect(body.template).toEqual({ id: '3', name: 'Two Buttons' });
    expect(body.captions).toEqual(expected);

    const missing = await fetch(`${url}/internal/templates/999/captions`, { headers: await asService() });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { errors: GraphQLError[] }).errors[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('take AI memes once per generation id, visible to premium viewers only', async () => {
    const body = {
      generationId: 'gen-e2e-1',
      title: 'Robot humour',
      topText: 'When the AI',
      bottomText: 'Tells the joke',
      templateId: '2',
      tags: ['Tech'],
      authorId: '4',
    };
    const responses = await Promise.all(
      Array.from({ length: 5 }, async () => post('/internal/ai-memes', await asService(), body)),
    );
    const results = (await Promise.all(responses.map((r) => r.json()))) as { meme: { id: string; imageUrl: string } }[];
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    const id = results[0]!.meme.id;
    expect(results.every((r) => r.meme.id === id)).toBe(true);
    expect(results[0]!.meme.imageUrl).toMatch(new RegExp(`^${url}/images/${id}\\.svg\\?sig=`));
    const [rows] = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM memes WHERE generation_id = 'gen-e2e-1'`,
    );
    expect(rows!.n).toBe(1);

    const seenByPremium = await ok<{ meme: MemeNode }>(
      premium(),
      'query($id: ID!) { meme(id: $id) { origin tags author { id } } }',
      { id },
    );
    expect(seenByPremium.meme).toEqual({ origin: 'AI', tags: ['tech'], author: { id: '4' } });
    const seenByFree = await ok<{ meme: MemeNode | null }>(free(), 'query($id: ID!) { meme(id: $id) { id } }', { id });
    expect(seenByFree.meme).toBeNull();
    expect((await fetch(results[0]!.meme.imageUrl)).status).toBe(200);
  });

  it('validate AI memes like createMeme', async () => {
    const bad = await post('/internal/ai-memes', await asService(), {
      generationId: 'gen-e2e-2',
      title: '',
      topText: 'x',
      bottomText: 'y',
      templateId: '1',
      tags: [],
      authorId: '4',
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: GraphQLError[] }).errors[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const unknownTemplate = await post('/internal/ai-memes', await asService(), {
      generationId: 'gen-e2e-3',
      title: 't',
      topText: 'x',
      bottomText: 'y',
      templateId: '424242',
      authorId: '4',
    });
    expect(unknownTemplate.status).toBe(400);
  });
});
