import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, signUp, type TestAccount } from './support/accounts';
import { GENEROUS_ANONYMOUS, startStack, type Stack } from './support/stack';

/**
 * Cache hits answered from the stored bytes, before Apollo Server, must be
 * indistinguishable from hits answered through it and from the miss that
 * stored them: status, headers, body. A router learns a request when it
 * stores (or, through Apollo, finds) its answer, so on router A the second
 * request is answered before Apollo, while router B's first is answered
 * through Apollo from Redis and its second before Apollo again.
 */

let stack: Stack;
let routerB: string;
let alice: TestAccount;

beforeAll(async () => {
  stack = await startStack({ users: 10, memes: 40, routerEnv: { TIERS_JSON: GENEROUS_ANONYMOUS } });
  routerB = await stack.addRouter();
  alice = await signUp(stack.routerUrl, 'cached_answer_alice');
});
afterAll(() => stack?.close());

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

type Method = 'GET' | 'POST';

async function ask(
  base: string,
  method: Method,
  accept: string,
  query: string,
  variables: Record<string, unknown>,
  credentials: Record<string, string>,
): Promise<Answer> {
  const headers: Record<string, string> = { accept, ...credentials };
  let response: Response;
  if (method === 'GET') {
    const url = `${base}/graphql?query=${encodeURIComponent(query)}&variables=${encodeURIComponent(JSON.stringify(variables))}`;
    response = await fetch(url, { headers: { ...headers, 'apollo-require-preflight': 'true' } });
  } else {
    response = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
  }
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/**
 * Headers that differ between any two answers: time, identity of the request, what is left of the
 * limits, and the length of a body whose cost figures differ (checked against the body instead).
 */
const PER_REQUEST = new Set([
  'date',
  'age',
  'x-request-id',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
  'keep-alive',
  'connection',
  'content-length',
]);

/** An answer with what changes from one request to the next set aside: what must be the same for every hit. */
function stableParts(answer: Answer) {
  const headers: Record<string, string> = {};
  answer.headers.forEach((value, name) => {
    if (!PER_REQUEST.has(name))
      headers[name] = name === 'cache-control' ? value.replace(/max-age=\d+/, 'max-age=N') : value;
  });
  const body = JSON.parse(answer.text) as {
    data: unknown;
    extensions: { cost: { throttleStatus: { currentlyAvailable: number } } };
  };
  body.extensions.cost.throttleStatus.currentlyAvailable = -1;
  return {
    status: answer.status,
    headers,
    body,
    text: answer.text.replace(/"currentlyAvailable":\d+/, '"currentlyAvailable":-1'),
  };
}

const QUERIES = {
  public: (n: number) =>
    `query Page${n}($first: Int!) { trending(first: $first) { id title score author { handle } } }`,
  private: (n: number) => `query Me${n} { me { handle } trending(first: 1) { id } }`,
};

describe('cache hits answered from stored bytes', () => {
  let n = 0;
  for (const method of ['GET', 'POST'] as const) {
    for (const accept of ['application/json', 'application/graphql-response+json'] as const) {
      for (const who of ['anonymous', 'signed-in'] as const) {
        for (const kind of ['public', 'private'] as const) {
          if (kind === 'private' && who === 'anonymous') continue;
          const index = n++;
          it(`${method}, Accept ${accept}, ${who}, ${kind}: a hit is the miss that stored it, before Apollo or through it`, async () => {
            const credentials: Record<string, string> =
              who === 'signed-in' ? { authorization: `Bearer ${alice.token}` } : {};
            const query = QUERIES[kind](index);
            const variables = kind === 'public' ? { first: 3 } : {};
            const send = (base: string) => ask(base, method, accept, query, variables, credentials);

            const miss = await send(stack.routerUrl);
            expect(miss.status).toBe(200);
            expect(miss.headers.get('x-cache')).toBe('MISS');
            const hitA = await send(stack.routerUrl);
            const firstOnB = await send(routerB);
            const hitB = await send(routerB);
            for (const hit of [hitA, firstOnB, hitB]) expect(hit.headers.get('x-cache')).toBe('HIT');

            // Every hit: the same status, headers and bytes, whichever path answered it.
            const reference = stableParts(firstOnB);
            expect(stableParts(hitA)).toEqual(reference);
            expect(stableParts(hitB)).toEqual(reference);
            expect(reference.text.endsWith('\n')).toBe(true);
            for (const hit of [hitA, firstOnB, hitB]) {
              const age = Number(hit.headers.get('age'));
              expect(age).toBeGreaterThanOrEqual(0);
              expect(hit.headers.get('x-ratelimit-limit')).toBe(miss.headers.get('x-ratelimit-limit'));
              expect(hit.headers.get('x-request-id')).toMatch(/\S/);
              expect(Number(hit.headers.get('content-length'))).toBe(Buffer.byteLength(hit.text));
            }

            // And the miss that stored them: the same data in the same bytes, the same caching headers.
            const stored = stableParts(miss);
            expect(reference.status).toBe(stored.status);
            expect(reference.body.data).toEqual(stored.body.data);
            expect(reference.text.slice(0, reference.text.indexOf(',"extensions"'))).toBe(
              stored.text.slice(0, stored.text.indexOf(',"extensions"')),
            );
            expect({ ...reference.headers, 'x-cache': 'MISS' }).toEqual(stored.headers);
            expect(miss.headers.get('content-type')).toContain(accept);
            if (kind === 'private') expect(reference.headers['cache-control']).toBe('no-store');
            else
              expect(reference.headers['cache-control']).toBe(
                who === 'anonymous' ? 'public, max-age=N' : 'private, max-age=N',
              );
            const cost = (
              JSON.parse(hitA.text) as { extensions: { cost: { requestedQueryCost: number; actualQueryCost: number } } }
            ).extensions.cost;
            expect(cost.actualQueryCost).toBe(0);
            expect(cost.requestedQueryCost).toBe(
              (JSON.parse(miss.text) as { extensions: { cost: { requestedQueryCost: number } } }).extensions.cost
                .requestedQueryCost,
            );
          });
        }
      }
    }
  }

  it('a private answer is another viewer’s miss, and a GET without a preflight header is refused as before', async () => {
    const bob = await signUp(stack.routerUrl, 'cached_answer_bob');
    const query = `query MeOnly { me { handle } }`;
    const asAlice = { authorization: `Bearer ${alice.token}` };
    await ask(stack.routerUrl, 'POST', 'application/json', query, {}, asAlice);
    const again = await ask(stack.routerUrl, 'POST', 'application/json', query, {}, asAlice);
    expect(again.headers.get('x-cache')).toBe('HIT');
    const asBob = await ask(
      stack.routerUrl,
      'POST',
      'application/json',
      query,
      {},
      { authorization: `Bearer ${bob.token}` },
    );
    expect(asBob.headers.get('x-cache')).toBe('MISS');
    expect((JSON.parse(asBob.text) as { data: { me: { handle: string } } }).data.me.handle).toBe('cached_answer_bob');

    // A GET Apollo's CSRF prevention refuses is refused on a known request too.
    const url = `${stack.routerUrl}/graphql?query=${encodeURIComponent(query)}`;
    const known = await fetch(url, { headers: { ...asAlice, 'apollo-require-preflight': 'true' } });
    expect(known.headers.get('x-cache')).toBe('HIT');
    const simple = await fetch(url, { headers: asAlice });
    expect(simple.status).toBe(400);
    expect(simple.headers.get('x-cache')).toBeNull();
    expect(await simple.text()).toContain('Cross-Site Request Forgery');
  });

  it('a purge through another router is seen at once: the purged answer is not served again', async () => {
    const [meme] = await stack.dbs.memes.query<{ id: string; score: number }>(
      `SELECT id, score FROM memes WHERE origin = 'HUMAN' ORDER BY id LIMIT 1`,
    );
    const query = `query Score($id: ID!) { meme(id: $id) { id score } }`;
    const read = () => ask(stack.routerUrl, 'POST', 'application/json', query, { id: meme!.id }, {});
    expect((await read()).headers.get('x-cache')).toBe('MISS');
    const hit = await read();
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect((JSON.parse(hit.text) as { data: { meme: { score: number } } }).data.meme.score).toBe(meme!.score);

    const voter = await signUp(routerB, 'cached_answer_voter');
    const voted = await voter.client(`mutation($id: ID!) { vote(memeId: $id, value: 1) { score } }`, { id: meme!.id });
    expect(voted.body.errors).toBeUndefined();

    // Redis was purged before the vote answered; router A's own copy goes when the purge message reaches it.
    let after = await read();
    if (after.headers.get('x-cache') === 'HIT')
      await eventually(async () => (after = await read()).headers.get('x-cache') !== 'HIT');
    expect(after.headers.get('x-cache')).toBe('MISS');
    expect((JSON.parse(after.text) as { data: { meme: { score: number } } }).data.meme.score).toBe(meme!.score + 1);
  });
});
