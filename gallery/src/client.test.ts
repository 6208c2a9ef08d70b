import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { GALLERY_CLIENT_NAME, createGalleryClient, sha256Hex, viewerDataChanged } from './client';
import type { PersistedQueryManifest } from './manifest';
import { FEED, TRENDING_MEMES, VOTE, type MemeCard } from './operations';

/** What one request carried, GET or POST alike. */
interface Sent {
  method: string;
  headers: Headers;
  /** The fetch's cache mode: how the browser's HTTP cache may answer. */
  cache?: RequestCache;
  query?: string;
  hash?: string;
  variables?: Record<string, unknown>;
}

/** A fetch that answers from `respond` and keeps what was sent, as the router would see it. */
function fakeRouter(respond: (sent: Sent) => unknown) {
  const sent: Sent[] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const url = new URL(String(input));
    const method = init?.method ?? 'GET';
    const params =
      method === 'GET'
        ? {
            query: url.searchParams.get('query') ?? undefined,
            extensions: JSON.parse(url.searchParams.get('extensions') ?? '{}') as unknown,
            variables: JSON.parse(url.searchParams.get('variables') ?? '{}') as unknown,
          }
        : (JSON.parse(String(init?.body)) as { query?: string; extensions?: unknown; variables?: unknown });
    const { persistedQuery } = (params.extensions ?? {}) as { persistedQuery?: { sha256Hash?: string } };
    const request: Sent = {
      method,
      headers: new Headers(init?.headers),
      cache: init?.cache,
      query: params.query,
      hash: persistedQuery?.sha256Hash,
      variables: params.variables as Record<string, unknown>,
    };
    sent.push(request);
    return new Response(JSON.stringify(respond(request)), { headers: { 'content-type': 'application/json' } });
  };
  return { fetch, sent };
}

/** A meme as the router answers for a card. */
function card(id: string): MemeCard & { __typename: 'Meme' } {
  return {
    __typename: 'Meme',
    id,
    title: `Doge ${id}`,
    topText: 'such test',
    bottomText: 'very pass',
    score: 3,
    origin: 'HUMAN',
    imageUrl: `/images/${id}.svg`,
    author: { __typename: 'User', id: '7', handle: 'shibe' } as MemeCard['author'],
  };
}

const TRENDING = { trending: [{ ...card('1'), template: { __typename: 'Template', id: '2', name: 'Doge' } }] };
const NOT_FOUND = {
  errors: [{ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } }],
};

async function manifest(): Promise<PersistedQueryManifest> {
  return JSON.parse(
    await readFile(new URL('../persisted-query-manifest.json', import.meta.url), 'utf8'),
  ) as PersistedQueryManifest;
}

describe('createGalleryClient', () => {
  it('hashes with WebCrypto exactly as node:crypto does', async () => {
    expect(await sha256Hex('query { ✓ }')).toBe(createHash('sha256').update('query { ✓ }').digest('hex'));
  });

  it('apq: a hashed GET first, the full query by POST only after PERSISTED_QUERY_NOT_FOUND', async () => {
    const router = fakeRouter((sent) => (sent.query ? { data: TRENDING } : NOT_FOUND));
    const client = createGalleryClient({
      uri: 'http://router.test/graphql',
      mode: 'apq',
      token: 'jwt',
      fetch: router.fetch,
    });

    const { data } = await client.query({ query: TRENDING_MEMES });

    expect(data?.trending[0]?.author.handle).toBe('shibe');
    expect(router.sent.map(({ method, query }) => [method, query !== undefined])).toEqual([
      ['GET', false],
      ['POST', true],
    ]);
    const [hashed, registration] = router.sent as [Sent, Sent];
    expect(hashed.hash).toBe(await sha256Hex(registration.query ?? ''));
    expect(registration.hash).toBe(hashed.hash);
    expect(hashed.headers.get('authorization')).toBe('Bearer jwt');
    // The hash of what Apollo Client sends is the manifest's id for the same
    // operation: one id for both kinds of persisted query.
    expect((await manifest()).operations.find((operation) => operation.name === 'TrendingMemes')?.id).toBe(hashed.hash);
  });

  it('trusted-documents: only manifest ids, GET for queries and POST for mutations, never the text', async () => {
    const ids = new Map((await manifest()).operations.map((operation) => [operation.name, operation.id]));
    const router = fakeRouter((sent) =>
      sent.hash === ids.get('Vote')
        ? { data: { vote: { __typename: 'Meme', id: '1', score: 4, viewerVote: 1 } } }
        : { data: TRENDING },
    );
    const client = createGalleryClient({
      uri: 'http://router.test/graphql',
      mode: 'trusted-documents',
      apiKey: 'mg_key',
      manifest: await manifest(),
      fetch: router.fetch,
    });

    await client.query({ query: TRENDING_MEMES });
    const voted = await client.mutate({ mutation: VOTE, variables: { memeId: '1', value: 1 } });

    expect(voted.data?.vote.score).toBe(4);
    expect(router.sent.map(({ method, query, hash }) => [method, query, hash])).toEqual([
      ['GET', undefined, ids.get('TrendingMemes')],
      ['POST', undefined, ids.get('Vote')],
    ]);
    expect(router.sent[1]?.variables).toEqual({ memeId: '1', value: 1 });
    expect(router.sent.every((sent) => sent.headers.get('x-api-key') === 'mg_key')).toBe(true);
  });

  it('after the viewer changes something, each query goes past the browser’s HTTP cache once', async () => {
    const router = fakeRouter((sent) =>
      sent.method === 'POST'
        ? { data: { vote: { __typename: 'Meme', id: '1', score: 4, viewerVote: 1 } } }
        : { data: TRENDING },
    );
    const client = createGalleryClient({
      uri: 'http://router.test/graphql',
      mode: 'trusted-documents',
      token: 'jwt',
      manifest: await manifest(),
      fetch: router.fetch,
    });
    const trending = (first: number) =>
      client.query({ query: TRENDING_MEMES, variables: { first }, fetchPolicy: 'network-only' });

    await trending(1);
    await client.mutate({ mutation: VOTE, variables: { memeId: '1', value: 1 } });
    await trending(1);
    await trending(1);
    await trending(2);
    viewerDataChanged(client);
    await trending(1);
    expect(router.sent.map(({ method, cache }) => [method, cache])).toEqual([
      ['GET', undefined],
      ['POST', undefined],
      ['GET', 'no-cache'],
      ['GET', undefined],
      ['GET', 'no-cache'],
      ['GET', 'no-cache'],
    ]);
  });

  it('trusted-documents never falls back to the query text, whatever the router answers', async () => {
    for (const code of ['PERSISTED_QUERY_NOT_FOUND', 'PERSISTED_QUERY_NOT_SUPPORTED']) {
      const router = fakeRouter(() => ({ errors: [{ message: code, extensions: { code } }] }));
      const client = createGalleryClient({
        uri: 'http://router.test/graphql',
        mode: 'trusted-documents',
        manifest: await manifest(),
        fetch: router.fetch,
      });

      await expect(client.query({ query: TRENDING_MEMES }), code).rejects.toThrow(code);
      await expect(client.query({ query: TRENDING_MEMES, fetchPolicy: 'network-only' }), code).rejects.toThrow(code);

      expect(
        router.sent.map(({ method, query, hash }) => [method, query, hash !== undefined]),
        code,
      ).toEqual([
        ['GET', undefined, true],
        ['GET', undefined, true],
      ]);
    }
  });

  it('names the client in apollographql-client-name and -version when asked to', async () => {
    const router = fakeRouter(() => ({ data: TRENDING }));
    const client = createGalleryClient({
      uri: 'http://router.test/graphql',
      mode: 'trusted-documents',
      manifest: await manifest(),
      clientName: GALLERY_CLIENT_NAME,
      clientVersion: '1.2.3',
      fetch: router.fetch,
    });

    await client.query({ query: TRENDING_MEMES });

    expect(router.sent[0]?.headers.get('apollographql-client-name')).toBe('memegraph-gallery');
    expect(router.sent[0]?.headers.get('apollographql-client-version')).toBe('1.2.3');
  });

  it('fetchMore with the end cursor appends the next page of the feed to the same list', async () => {
    const page = (ids: string[], hasNextPage: boolean) => ({
      feed: {
        __typename: 'MemeConnection',
        edges: ids.map((id) => ({ __typename: 'MemeEdge', cursor: `c${id}`, node: card(id) })),
        pageInfo: { __typename: 'PageInfo', hasNextPage, endCursor: `c${ids.at(-1)}` },
      },
    });
    const router = fakeRouter((sent) => ({
      data: sent.variables?.after === 'c2' ? page(['3', '4'], false) : page(['1', '2'], true),
    }));
    const client = createGalleryClient({
      uri: 'http://router.test/graphql',
      mode: 'trusted-documents',
      manifest: await manifest(),
      fetch: router.fetch,
    });

    // As the app's list does: one watched query, and fetchMore from its end cursor.
    const feed = client.watchQuery({ query: FEED, variables: { first: 2 } });
    const subscription = feed.subscribe(() => {});
    try {
      const first = await firstValueFrom(feed.pipe(filter((result) => result.dataState === 'complete')));
      const more = await feed.fetchMore({ variables: { after: first.data.feed.pageInfo.endCursor } });
      expect(more.data?.feed.edges.map((edge) => edge.node.id)).toEqual(['3', '4']);
    } finally {
      subscription.unsubscribe();
    }
    const merged = client.readQuery({ query: FEED, variables: { first: 2 } });

    expect(merged?.feed.edges.map((edge) => edge.node.id)).toEqual(['1', '2', '3', '4']);
    expect(merged?.feed.pageInfo).toMatchObject({ hasNextPage: false, endCursor: 'c4' });
    expect(router.sent.map((sent) => sent.variables)).toEqual([{ first: 2 }, { first: 2, after: 'c2' }]);
  });

  it('trusted-documents needs the manifest', () => {
    expect(() => createGalleryClient({ uri: 'http://router.test/graphql', mode: 'trusted-documents' })).toThrow(
      /manifest/,
    );
  });
});
