import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, type TestAccount } from './support/accounts';
import { startCachingProxy, type CachingProxy } from './support/cachingProxy';
import { GENEROUS_ANONYMOUS, startStack, type Stack } from './support/stack';

/**
 * HTTP caching as browsers and CDNs see it: a shared cache (RFC 9111) in
 * front of the router must never hand one viewer's answer to another, and
 * the router's headers say what each answer is.
 */

const MANIFEST = path.resolve(import.meta.dirname, '../gallery/persisted-query-manifest.json');

let stack: Stack;
let proxy: CachingProxy;
/** More shared caches, each in front of a router of its own, closed at the end. */
const proxies: CachingProxy[] = [];
let premium: TestAccount;
let premiumKey: string;
let free: TestAccount;

beforeAll(async () => {
  stack = await startStack({ users: 10, memes: 60, routerEnv: { TIERS_JSON: GENEROUS_ANONYMOUS } });
  proxy = await startCachingProxy(stack.routerUrl);
  premium = await signUp(stack.routerUrl, 'http_cache_premium', 'PREMIUM');
  free = await signUp(stack.routerUrl, 'http_cache_free');
  const created = await premium.client<{ createApiKey: { secret: string } }>(
    `mutation { createApiKey(name: "cdn test") { secret } }`,
  );
  premiumKey = created.body.data!.createApiKey.secret;
});
afterAll(async () => {
  for (const other of proxies) await other.close();
  await proxy?.close();
  await stack?.close();
});

interface Answer<D> {
  status: number;
  headers: Headers;
  body: { data?: D | null; errors?: { extensions?: { code?: string } }[] };
}

/** A GraphQL GET, as Apollo Client sends hashed queries and CDNs cache them. */
async function get<D = Record<string, unknown>>(
  base: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<Answer<D>> {
  const url = `${base}/graphql?query=${encodeURIComponent(query)}&variables=${encodeURIComponent(JSON.stringify(variables))}`;
  const response = await fetch(url, {
    headers: {
      accept: 'application/graphql-response+json, application/json',
      'apollo-require-preflight': 'true',
      ...headers,
    },
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Answer<D>['body'] };
}

const FEED = `{ feed(first: 60) { edges { node { id origin } } } }`;
type Feed = { feed: { edges: { node: { id: string; origin: string } }[] } };
const origins = (answer: Answer<Feed>) => answer.body.data!.feed.edges.map((edge) => edge.node.origin);
const varied = (headers: Headers) =>
  (headers.get('vary') ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);
const PUBLIC = /^public, max-age=([1-9]\d*)$/;
const PRIVATE = /^private, max-age=([1-9]\d*)$/;

describe('HTTP caching through a shared cache in front of the router', () => {
  it('a premium viewer’s answer is private and varies by credentials: the shared cache never hands it to anyone else', async () => {
    const base = proxy.url();
    const byToken = { authorization: `Bearer ${premium.token}` };
    const byKey = { 'x-api-key': premiumKey };
    const premiumAnswers = [await get<Feed>(base, FEED, {}, byToken), await get<Feed>(base, FEED, {}, byKey)];
    for (const answer of premiumAnswers) expect(origins(answer)).toContain('AI');

    // The visitor after them on the same URL gets a visitor's feed, from the router.
    const anonymous = await get<Feed>(base, FEED);
    expect(origins(anonymous)).not.toContain('AI');
    expect(anonymous.headers.get('x-proxy-cache')).toBe('MISS');

    for (const answer of premiumAnswers) {
      expect(answer.status).toBe(200);
      expect(answer.headers.get('cache-control')).toMatch(PRIVATE);
      expect(varied(answer.headers)).toEqual(expect.arrayContaining(['authorization', 'x-api-key']));
      expect(answer.headers.get('surrogate-key')).toBeNull();
      expect(answer.headers.get('cache-tag')).toBeNull();
    }
    // A premium viewer asking after the anonymous answer was stored gets their own feed, not the stored one.
    for (const credentials of [byToken, byKey]) {
      const again = await get<Feed>(base, FEED, {}, credentials);
      expect(again.headers.get('x-proxy-cache')).toBe('MISS');
      expect(origins(again)).toContain('AI');
    }
    const freeFeed = await get<Feed>(base, FEED, {}, { authorization: `Bearer ${free.token}` });
    expect(freeFeed.headers.get('x-proxy-cache')).toBe('MISS');
    expect(freeFeed.headers.get('cache-control')).toMatch(PRIVATE);
  });

  it('an anonymous answer is public, carries its entity tags as surrogate keys, and the shared cache serves it to the next visitor', async () => {
    const base = proxy.url();
    const QUERY = `query Page($first: Int) { memes(first: $first) { edges { node { id title } } } }`;
    const first = await get<{ memes: { edges: { node: { id: string } }[] } }>(base, QUERY, { first: 5 });
    expect(first.status).toBe(200);
    expect(first.headers.get('x-proxy-cache')).toBe('MISS');
    expect(first.headers.get('cache-control')).toMatch(PUBLIC);
    expect(varied(first.headers)).toEqual(expect.arrayContaining(['authorization', 'x-api-key']));
    const memeIds = first.body.data!.memes.edges.map((edge) => edge.node.id);
    const tags = first.headers.get('surrogate-key')!.split(' ');
    expect(tags).toEqual(expect.arrayContaining([...memeIds.map((id) => `Meme:${id}`), 'Meme:list']));
    expect(first.headers.get('cache-tag')!.split(',')).toEqual(tags);

    const second = await get(base, QUERY, { first: 5 });
    expect(second.headers.get('x-proxy-cache')).toBe('HIT');
    expect(second.body).toEqual(first.body);
    // A signed-in viewer is not served the stored public answer: it varies by credentials.
    const signedIn = await get(base, QUERY, { first: 5 }, { authorization: `Bearer ${free.token}` });
    expect(signedIn.headers.get('x-proxy-cache')).toBe('MISS');
    expect(signedIn.headers.get('cache-control')).toMatch(PRIVATE);
  });

  it('the viewer’s own account data is no-store, by GET and by POST, and no cache keeps it', async () => {
    const base = proxy.url();
    const ME = `{ me { handle tier } }`;
    const forwarded = proxy.stats.forwarded;
    for (let i = 0; i < 2; i++) {
      const answer = await get<{ me: { handle: string } }>(base, ME, {}, { authorization: `Bearer ${premium.token}` });
      expect(answer.body.data!.me.handle).toBe('http_cache_premium');
      expect(answer.headers.get('cache-control')).toBe('no-store');
      expect(varied(answer.headers)).toEqual(expect.arrayContaining(['authorization', 'x-api-key']));
    }
    expect(proxy.stats.forwarded - forwarded).toBe(2);
    const byPost = await premium.client(`{ me { handle subscription { status } } }`);
    expect(byPost.headers.get('cache-control')).toBe('no-store');
  });

  it('mutations are no-store; one that changes the viewer’s plan or keys also clears the browser’s cache for the site', async () => {
    const [meme] = await stack.dbs.memes.query<{ id: string }>(
      `SELECT id FROM memes WHERE origin = 'HUMAN' ORDER BY id LIMIT 1`,
    );
    const vote = await free.client(`mutation($id: ID!) { vote(memeId: $id, value: 1) { score } }`, { id: meme!.id });
    expect(vote.body.errors).toBeUndefined();
    expect(vote.headers.get('cache-control')).toBe('no-store');
    expect(vote.headers.get('clear-site-data')).toBeNull();
    expect(varied(vote.headers)).toEqual(expect.arrayContaining(['authorization', 'x-api-key']));

    const upgrade = await free.client(`mutation { subscribe(plan: PREMIUM) { status } }`);
    expect(upgrade.body.errors).toBeUndefined();
    expect(upgrade.headers.get('cache-control')).toBe('no-store');
    expect(upgrade.headers.get('clear-site-data')).toBe('"cache"');
    const cancel = await free.client(`mutation { cancelSubscription { status } }`);
    expect(cancel.headers.get('clear-site-data')).toBe('"cache"');

    // In a batch, the strictest answer wins: one operation that must not be kept keeps none.
    const batch = await fetch(`${stack.routerUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${free.token}` },
      body: JSON.stringify([
        { query: `{ templates { id } }` },
        { query: `mutation { subscribe(plan: PREMIUM) { status } }` },
      ]),
    });
    expect(batch.status).toBe(200);
    expect(batch.headers.get('cache-control')).toBe('no-store');
    expect(batch.headers.get('clear-site-data')).toBe('"cache"');
  });

  it('answers with errors, partial data and refusals are no-store', async () => {
    const base = proxy.url();
    // A field the visitor may not see: partial data.
    const partial = await get(base, `{ trending(first: 2) { id prompt } }`);
    expect(partial.body.errors?.[0]?.extensions?.code).toBe('UNAUTHORIZED_FIELD_OR_TYPE');
    expect(partial.headers.get('cache-control')).toBe('no-store');
    expect(partial.headers.get('surrogate-key')).toBeNull();
    const invalid = await get(base, `{ trending(first: 2) { nope } }`);
    expect(invalid.status).toBe(400);
    expect(invalid.headers.get('cache-control')).toBe('no-store');
    const refused = await get(base, `{ templates { id } }`, {}, { authorization: 'Bearer not-a-token' });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('cache-control')).toBe('no-store');
    expect(varied(refused.headers)).toEqual(expect.arrayContaining(['authorization', 'x-api-key']));
    // randomMeme is never cached (maxAge 0).
    const random = await get(base, `{ randomMeme { id } }`);
    expect(random.headers.get('cache-control')).toBe('no-store');
  });

  it('a response-cache hit carries the same headers as the miss that stored it', async () => {
    const QUERY = `{ trending(first: 4) { id title } }`;
    const headersOf = (answer: Answer<unknown>) => ({
      vary: answer.headers.get('vary'),
      surrogateKey: answer.headers.get('surrogate-key'),
      cacheTag: answer.headers.get('cache-tag'),
      clearSiteData: answer.headers.get('clear-site-data'),
      scope: answer.headers.get('cache-control')?.split(',')[0],
    });
    const maxAge = (answer: Answer<unknown>) =>
      Number(/max-age=(\d+)$/.exec(answer.headers.get('cache-control') ?? '')?.[1]);
    for (const credentials of [{}, { authorization: `Bearer ${free.token}` }] as Record<string, string>[]) {
      const miss = await get(stack.routerUrl, QUERY, {}, credentials);
      const hit = await get(stack.routerUrl, QUERY, {}, credentials);
      expect([miss.headers.get('x-cache'), hit.headers.get('x-cache')]).toEqual(['MISS', 'HIT']);
      expect(headersOf(hit)).toEqual(headersOf(miss));
      expect(maxAge(miss)).toBeGreaterThan(0);
      expect(maxAge(hit)).toBeLessThanOrEqual(maxAge(miss));
    }
    const anonymousHit = await get(stack.routerUrl, QUERY);
    expect(anonymousHit.headers.get('cache-control')).toMatch(PUBLIC);
    expect(anonymousHit.headers.get('surrogate-key')).toMatch(/\bMeme:list\b/);
  });

  it('an answer that depends on the client name varies by it: a client held to its trusted documents is refused, not served another client’s answer', async () => {
    const router = await stack.addRouter({
      TRUSTED_DOCUMENTS_MANIFEST: MANIFEST,
      TRUSTED_DOCUMENTS_MODE_BY_CLIENT: '{"memegraph-gallery":"enforce"}',
    });
    const cache = await startCachingProxy(router);
    proxies.push(cache);
    const QUERY = `{ memes(first: 3) { edges { node { id } } } }`;
    // Anyone but the gallery may send text: a public answer the shared cache keeps.
    const visitor = await get(cache.url(), QUERY);
    expect(visitor.status).toBe(200);
    expect(visitor.headers.get('cache-control')).toMatch(PUBLIC);
    expect(await get(cache.url(), QUERY).then((again) => again.headers.get('x-proxy-cache'))).toBe('HIT');

    // The gallery, held to its manifest, sending the same URL is refused by the router.
    const gallery = await get(cache.url(), QUERY, {}, { 'apollographql-client-name': 'memegraph-gallery' });
    expect(gallery.headers.get('x-proxy-cache')).toBe('MISS');
    expect(gallery.status).toBe(400);
    expect(gallery.body.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_IN_LIST');
    expect(gallery.headers.get('cache-control')).toBe('no-store');
    expect(varied(visitor.headers)).toContain('apollographql-client-name');
  });

  it('what the router answers outside GraphQL says it is not to be kept: a CDN keeping answers by heuristics passes probes and 404s on', async () => {
    // Fastly keeps a 200 or a 404 that says nothing of its freshness for an hour.
    const cdn = await startCachingProxy(stack.routerUrl, { heuristicSeconds: 3_600 });
    proxies.push(cdn);
    for (const [path, status] of [
      ['/health', 200],
      ['/ready', 200],
      ['/schema.graphql', 200],
      ['/no-such-page', 404],
      ['/images/no-such-image.png', 404],
    ] as const) {
      const answers = [await fetch(cdn.url(path)), await fetch(cdn.url(path))];
      // The second is the router's answer too, not the one the CDN kept.
      expect(answers.map((answer) => [path, answer.status, answer.headers.get('x-proxy-cache')])).toEqual([
        [path, status, 'MISS'],
        [path, status, 'MISS'],
      ]);
      expect(answers[0]!.headers.get('cache-control')).toBe('no-store');
    }
  });

  it('the explorer page, which /graphql answers a browser’s navigation with, varies by Accept', async () => {
    const page = await fetch(`${stack.routerUrl}/graphql`, {
      headers: { accept: 'text/html', 'accept-encoding': 'gzip' },
    });
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(varied(page.headers)).toEqual(expect.arrayContaining(['accept', 'accept-encoding']));
  });
});

describe('a browser on another origin', () => {
  const TRENDING = `{ trending(first: 3) { id title } }`;

  it('its preflight is told the methods and headers it may send, and for how long', async () => {
    const preflight = await fetch(`${stack.routerUrl}/graphql`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, authorization',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-methods')).toBe('GET, POST, OPTIONS');
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/(^|, )content-type(,|$)/);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/(^|, )authorization(,|$)/);
    expect(preflight.headers.get('access-control-max-age')).toBe('600');
  });

  it('may read every answer and its headers, a miss, a hit and a refusal alike, and is told nothing a preflight is told', async () => {
    const post = (body: string) =>
      fetch(`${stack.routerUrl}/graphql`, {
        method: 'POST',
        headers: { origin: 'https://app.example', 'content-type': 'application/json' },
        body,
      });
    const query = JSON.stringify({ query: TRENDING });
    const answers = [await post(query), await post(query), await post('{"query": ')];
    expect(answers.map((answer) => [answer.status, answer.headers.get('x-cache')])).toEqual([
      [200, 'MISS'],
      [200, 'HIT'],
      [400, null],
    ]);
    // A body that does not parse is refused before the limits count it: no rate headers.
    expect(answers.map((answer) => answer.headers.get('x-ratelimit-remaining'))).toEqual([
      expect.stringMatching(/^\d+$/),
      expect.stringMatching(/^\d+$/),
      null,
    ]);
    for (const answer of answers) {
      expect(answer.headers.get('access-control-allow-origin')).toBe('*');
      expect(answer.headers.get('access-control-expose-headers')?.split(', ')).toEqual(
        expect.arrayContaining(['x-ratelimit-remaining', 'x-cache', 'age', 'x-request-id', 'retry-after']),
      );
      for (const name of ['access-control-allow-methods', 'access-control-allow-headers', 'access-control-max-age']) {
        expect(answer.headers.get(name)).toBeNull();
      }
    }
  });
});
