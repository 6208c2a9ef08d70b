import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import {
  createGalleryClient,
  ME,
  MEME_BY_ID,
  SIGN_UP,
  TRENDING_MEMES,
  VOTE,
  type GalleryClientOptions,
  type PersistedQueryManifest,
} from '@memegraph/gallery';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './support/accounts';
import { gql } from './support/client';
import { GENEROUS_ANONYMOUS, startStack, type Stack } from './support/stack';

/** The committed manifest, by absolute path, as an operator would point a router at it. */
const MANIFEST_PATH = createRequire(import.meta.url).resolve('@memegraph/gallery/persisted-query-manifest.json');

/** One request the client sent and what came back, as seen on the wire. */
interface Exchange {
  method: string;
  /** The query text, when the request carried it. */
  query: string | undefined;
  /** `extensions.persistedQuery.sha256Hash`, when the request carried it. */
  hash: string | undefined;
  status: number;
  headers: Headers;
  codes: (string | undefined)[];
}

interface SentOperation {
  query?: string;
  extensions?: { persistedQuery?: { sha256Hash?: string } };
}

interface ResponseBody {
  data?: unknown;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** A fetch for Apollo Client that passes every request to the router and records the exchange. */
function recordingFetch() {
  const exchanges: Exchange[] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const sent: SentOperation =
      request.method === 'GET'
        ? {
            query: url.searchParams.get('query') ?? undefined,
            extensions: JSON.parse(url.searchParams.get('extensions') ?? '{}') as SentOperation['extensions'],
          }
        : ((await request.clone().json()) as SentOperation);
    const response = await globalThis.fetch(request);
    const body = (await response.clone().json()) as ResponseBody;
    exchanges.push({
      method: request.method,
      query: sent.query,
      hash: sent.extensions?.persistedQuery?.sha256Hash,
      status: response.status,
      headers: response.headers,
      codes: (body.errors ?? []).map((error) => error.extensions?.code),
    });
    return response;
  };
  return { fetch, exchanges };
}

/** A gallery client of the router at `baseUrl`, recording what it sends. */
function galleryClient(baseUrl: string, options: Omit<GalleryClientOptions, 'uri' | 'fetch'>) {
  const recorder = recordingFetch();
  const client = createGalleryClient({ ...options, uri: `${baseUrl}/graphql`, fetch: recorder.fetch });
  return { client, exchanges: recorder.exchanges };
}

/** A raw GraphQL-over-HTTP request with a persisted query id and no text. */
async function sendId(
  baseUrl: string,
  method: 'GET' | 'POST',
  sha256Hash: string,
): Promise<{ status: number; body: ResponseBody }> {
  const extensions = JSON.stringify({ persistedQuery: { version: 1, sha256Hash } });
  const headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
  const response =
    method === 'GET'
      ? await fetch(`${baseUrl}/graphql?${new URLSearchParams({ extensions })}`, { headers })
      : await fetch(`${baseUrl}/graphql`, { method, headers, body: `{"extensions":${extensions}}` });
  return { status: response.status, body: (await response.json()) as ResponseBody };
}

let stack: Stack;
let manifest: PersistedQueryManifest;
const idOf = (name: string) => manifest.operations.find((operation) => operation.name === name)?.id;

beforeAll(async () => {
  stack = await startStack({ users: 10, memes: 60, routerEnv: { TIERS_JSON: GENEROUS_ANONYMOUS } });
  manifest = JSON.parse(await readFile(MANIFEST_PATH, 'utf8')) as PersistedQueryManifest;
});
afterAll(() => stack?.close());

describe('Apollo Client with automatic persisted queries', () => {
  it('registers a query once, then every client of every router sends only its hash by GET', async () => {
    // First client: the hash alone is unknown, so the query goes once more with its text.
    const first = galleryClient(stack.routerUrl, { mode: 'apq' });
    const trending = await first.client.query({ query: TRENDING_MEMES });
    expect(trending.data?.trending.length).toBeGreaterThan(1);
    expect(
      first.exchanges.map(({ method, query, codes }) => ({ method, withQuery: query !== undefined, codes })),
    ).toEqual([
      { method: 'GET', withQuery: false, codes: ['PERSISTED_QUERY_NOT_FOUND'] },
      { method: 'POST', withQuery: true, codes: [] },
    ]);
    const [lookup, registration] = first.exchanges as [Exchange, Exchange];
    expect(lookup.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(registration.hash).toBe(lookup.hash);
    expect(registration.status).toBe(200);

    // Second client, fresh cache, same router: the hash by GET is enough, and
    // the public answer may be cached by anyone on the way.
    const second = galleryClient(stack.routerUrl, { mode: 'apq' });
    const again = await second.client.query({ query: TRENDING_MEMES });
    expect(again.data).toEqual(trending.data);
    expect(second.exchanges).toHaveLength(1);
    expect(second.exchanges[0]).toMatchObject({
      method: 'GET',
      query: undefined,
      hash: lookup.hash,
      status: 200,
      codes: [],
    });
    expect(second.exchanges[0]?.headers.get('cache-control')).toMatch(/^public, max-age=[1-9]\d*$/);

    // MemeById registered through the first router...
    const [one, two] = trending.data!.trending;
    const byId = await first.client.query({ query: MEME_BY_ID, variables: { id: one!.id } });
    expect(byId.data?.meme?.id).toBe(one!.id);

    // ...runs on a second router by hash alone, for a meme nobody asked for
    // yet: that router can only have the query text from Redis. Apollo Server
    // stores a registration without waiting for it, so wait until it has landed.
    const otherRouter = await stack.addRouter();
    const registered = first.exchanges.find((e) => e.method === 'POST' && e.query?.includes('MemeById'));
    const probe = `${otherRouter}/graphql?extensions=${encodeURIComponent(JSON.stringify({ persistedQuery: { version: 1, sha256Hash: registered!.hash } }))}`;
    await eventually(async () => {
      const answer = (await (await fetch(probe, { headers: { 'apollo-require-preflight': 'true' } })).json()) as {
        errors?: unknown[];
      };
      return !JSON.stringify(answer.errors ?? []).includes('PERSISTED_QUERY_NOT_FOUND');
    });
    const third = galleryClient(otherRouter, { mode: 'apq' });
    const elsewhere = await third.client.query({ query: MEME_BY_ID, variables: { id: two!.id } });
    expect(elsewhere.data?.meme).toMatchObject({
      id: two!.id,
      title: two!.title,
      template: { name: two!.template.name },
    });
    expect(third.exchanges.map(({ method, query, status, codes }) => ({ method, query, status, codes }))).toEqual([
      { method: 'GET', query: undefined, status: 200, codes: [] },
    ]);
  });
});

describe('Apollo Client with trusted documents, on a router that enforces the manifest', () => {
  let router: string;
  beforeAll(async () => {
    router = await stack.addRouter({ TRUSTED_DOCUMENTS_MANIFEST: MANIFEST_PATH, TRUSTED_DOCUMENTS_MODE: 'enforce' });
  });

  it('runs listed queries sent as manifest ids only', async () => {
    const { client, exchanges } = galleryClient(router, { mode: 'trusted-documents', manifest });
    const trending = await client.query({ query: TRENDING_MEMES });
    const meme = trending.data!.trending[0]!;
    const detail = await client.query({ query: MEME_BY_ID, variables: { id: meme.id } });

    expect(detail.data?.meme).toMatchObject({ id: meme.id, title: meme.title, author: { handle: meme.author.handle } });
    expect(detail.data?.meme?.topText).toEqual(expect.any(String));
    expect(exchanges.map(({ method, query, hash, status }) => ({ method, query, hash, status }))).toEqual([
      { method: 'GET', query: undefined, hash: idOf('TrendingMemes'), status: 200 },
      { method: 'GET', query: undefined, hash: idOf('MemeById'), status: 200 },
    ]);
  });

  it('refuses query text, even of a harmless query, with PERSISTED_QUERY_NOT_IN_LIST', async () => {
    const response = await gql(`${router}/graphql`, '{ trending(first: 1) { id } }');
    expect(response.status).toBe(400);
    expect(response.body.errors?.map((error) => error.extensions?.code)).toEqual(['PERSISTED_QUERY_NOT_IN_LIST']);
  });

  it('refuses an id that is not in the manifest, by GET and by POST', async () => {
    const unknown = randomBytes(32).toString('hex');
    for (const method of ['GET', 'POST'] as const) {
      const response = await sendId(router, method, unknown);
      expect(response.status, method).toBe(400);
      expect(
        response.body.errors?.map((error) => error.extensions?.code),
        method,
      ).toEqual(['PERSISTED_QUERY_NOT_IN_LIST']);
    }
  });

  it('signs up, votes and reads the viewer with ids only', async () => {
    const anonymous = galleryClient(router, { mode: 'trusted-documents', manifest });
    const handle = `gallery_${randomBytes(4).toString('hex')}`;
    const signedUp = await anonymous.client.mutate({
      mutation: SIGN_UP,
      variables: { handle, password: 'a long gallery password' },
    });
    const token = signedUp.data!.signUp.token;
    expect(signedUp.data?.signUp.user).toMatchObject({ handle, tier: 'FREE' });

    const member = galleryClient(router, { mode: 'trusted-documents', manifest, token });
    const me = await member.client.query({ query: ME });
    expect(me.data?.me).toMatchObject({ id: signedUp.data!.signUp.user.id, handle, tier: 'FREE' });
    const [meme] = (await member.client.query({ query: TRENDING_MEMES, variables: { first: 1 } })).data!.trending;
    const voted = await member.client.mutate({ mutation: VOTE, variables: { memeId: meme!.id, value: 1 } });
    expect(voted.data?.vote).toMatchObject({ id: meme!.id, score: meme!.score + 1, viewerVote: 1 });

    const sent = [...anonymous.exchanges, ...member.exchanges];
    expect(sent.map(({ method, query, hash, status }) => ({ method, query, hash, status }))).toEqual([
      { method: 'POST', query: undefined, hash: idOf('SignUp'), status: 200 },
      { method: 'GET', query: undefined, hash: idOf('Me'), status: 200 },
      { method: 'GET', query: undefined, hash: idOf('TrendingMemes'), status: 200 },
      { method: 'POST', query: undefined, hash: idOf('Vote'), status: 200 },
    ]);
  });
});
