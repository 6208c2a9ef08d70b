import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient } from 'graphql-ws';
import WebSocket from 'ws';
import { eventually, signUp, subscribeTo, type TestAccount } from './support/accounts';
import { routerClient, type GraphQLResponse } from './support/client';
import { startStack, type Stack } from './support/stack';

/**
 * Every check that reads an operation must give the same answer for every
 * shape a client can send it in: the document plain, aliased, through a
 * named fragment or an inline fragment; and each of those sent as a POST, a
 * GET (queries), inside a batch, as an APQ hash and as a trusted-document id.
 */

type Variant = 'plain' | 'aliased' | 'named fragment' | 'inline fragment';
type Transport = 'POST' | 'GET' | 'batch' | 'APQ hash' | 'trusted-document id';
type Documents = Record<Variant, string>;

const QUERY_TRANSPORTS: Transport[] = ['POST', 'GET', 'batch', 'APQ hash', 'trusted-document id'];
const MUTATION_TRANSPORTS: Transport[] = ['POST', 'batch', 'APQ hash', 'trusted-document id'];

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** What one operation got, whatever its transport: the HTTP status, that operation's own result and X-Cache. */
interface Outcome {
  status: number;
  body: GraphQLResponse['body'];
  cache: string | null;
}

const AI_FIELD: Documents = {
  plain: `query($s: Boolean = false) { memes(first: 2) { edges { node { id prompt @skip(if: $s) } } } }`,
  aliased: `query($s: Boolean = false) { list: memes(first: 2) { edges { item: node { key: id secret: prompt @skip(if: $s) } } } }`,
  'named fragment': `query($s: Boolean = false) { memes(first: 2) { edges { node { ...M @skip(if: $s) } } } } fragment M on Meme { id prompt }`,
  'inline fragment': `query($s: Boolean = false) { memes(first: 2) { edges { node { id ... on Meme @skip(if: $s) { prompt } } } } }`,
};

const COSTED: Documents = {
  plain: `query($with: Boolean!) { trending(first: 4) { id author @include(if: $with) { handle } } }`,
  aliased: `query($with: Boolean!) { top: trending(first: 4) { key: id writer: author @include(if: $with) { name: handle } } }`,
  'named fragment': `query($with: Boolean!) { ...T } fragment T on Query { trending(first: 4) { id ...A @include(if: $with) } } fragment A on Meme { author { handle } }`,
  'inline fragment': `query($with: Boolean!) { ... on Query { trending(first: 4) { id ... @include(if: $with) { author { handle } } } } }`,
};

const REVOKE: Documents = {
  plain: `mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }`,
  aliased: `mutation($id: ID!) { gone: revokeApiKey(id: $id) { when: revokedAt } }`,
  'named fragment': `mutation($id: ID!) { ...R } fragment R on Mutation { revokeApiKey(id: $id) { revokedAt } }`,
  'inline fragment': `mutation($id: ID!) { ... on Mutation { revokeApiKey(id: $id) { revokedAt } } }`,
};

const CANCEL: Documents = {
  plain: `mutation($go: Boolean! = true) { cancelSubscription @include(if: $go) { status } }`,
  aliased: `mutation($go: Boolean! = true) { stop: cancelSubscription @include(if: $go) { state: status } }`,
  'named fragment': `mutation($go: Boolean! = true) { ...C @include(if: $go) } fragment C on Mutation { cancelSubscription { status } }`,
  'inline fragment': `mutation($go: Boolean! = true) { ... on Mutation @include(if: $go) { cancelSubscription { status } } }`,
};

const VOTE: Documents = {
  plain: `mutation($id: ID!, $v: Int!) { vote(memeId: $id, value: $v) { score } }`,
  aliased: `mutation($id: ID!, $v: Int!) { cast: vote(memeId: $id, value: $v) { points: score } }`,
  'named fragment': `mutation($id: ID!, $v: Int!) { ...V } fragment V on Mutation { vote(memeId: $id, value: $v) { score } }`,
  'inline fragment': `mutation($id: ID!, $v: Int!) { ... on Mutation { vote(memeId: $id, value: $v) { score } } }`,
};

const KEY_LIMITED: Documents = {
  plain: `mutation($s: Boolean! = false) { createApiKey(name: "one") @skip(if: $s) { secret } }`,
  aliased: `mutation($s: Boolean! = false) { a: createApiKey(name: "a") @skip(if: $s) { secret } b: createApiKey(name: "b") @skip(if: $s) { secret } }`,
  'named fragment': `mutation($s: Boolean! = false) { ...K @skip(if: $s) } fragment K on Mutation { createApiKey(name: "one") { secret } }`,
  'inline fragment': `mutation($s: Boolean! = false) { ... on Mutation @skip(if: $s) { createApiKey(name: "one") { secret } } }`,
};

/**
 * Aliases the router takes for its own keys (memegraphId, memegraphType, memegraphId_<Type>): they named the
 * wrong entity in the answer's cache tags and vanished from the client's answer. One such alias in each.
 */
const RESERVED: Documents = {
  plain: `query { trending(first: 2) { id memegraphId: title } }`,
  aliased: `query { top: trending(first: 2) { title author { id memegraphId_User: handle } } }`,
  'named fragment': `query { trending(first: 2) { ...M } } fragment M on Meme { title memegraphType: title }`,
  'inline fragment': `query { trending(first: 2) { id ... on Meme { memegraphId_Meme: title } } }`,
};

const ALL_DOCUMENTS = [AI_FIELD, COSTED, REVOKE, CANCEL, VOTE, KEY_LIMITED, RESERVED].flatMap((d) => Object.values(d));
const VARIANTS = Object.keys(AI_FIELD) as Variant[];

describe('every check sees through every shape of an operation', () => {
  let stack: Stack;
  let manifestDir: string;
  /** Two routers on one Redis, both holding the trusted-documents manifest (mode log: anything else runs too). */
  let a: string;
  let b: string;

  /** Sends one operation in one shape to a router and returns that operation's outcome. */
  async function send(
    router: string,
    transport: Transport,
    query: string,
    variables: Record<string, unknown>,
    headers: Record<string, string> = {},
  ): Promise<Outcome> {
    const post = async (body: unknown) => {
      const response = await fetch(`${router}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
        body: JSON.stringify(body),
      });
      return {
        status: response.status,
        cache: response.headers.get('x-cache'),
        json: (await response.json()) as unknown,
      };
    };
    const get = async (params: Record<string, string>) => {
      const response = await fetch(`${router}/graphql?${new URLSearchParams(params)}`, {
        headers: { accept: 'application/json', 'apollo-require-preflight': 'true', ...headers },
      });
      return {
        status: response.status,
        cache: response.headers.get('x-cache'),
        json: (await response.json()) as unknown,
      };
    };
    const hashed = { persistedQuery: { version: 1, sha256Hash: sha256(query) } };
    const isQuery = query.trimStart().startsWith('query');
    let answer: { status: number; cache: string | null; json: unknown };
    switch (transport) {
      case 'POST':
        answer = await post({ query, variables });
        break;
      case 'GET':
        answer = await get({ query, variables: JSON.stringify(variables) });
        break;
      case 'batch': {
        const batch = await post([{ query: '{ __typename }' }, { query, variables }]);
        return { status: batch.status, cache: batch.cache, body: (batch.json as Outcome['body'][])[1]! };
      }
      case 'APQ hash':
        // Registered in beforeAll; here only the hash travels (GET for queries, as CDNs like it).
        answer = isQuery
          ? await get({ variables: JSON.stringify(variables), extensions: JSON.stringify(hashed) })
          : await post({ variables, extensions: hashed });
        break;
      case 'trusted-document id':
        answer = await post({ variables, extensions: hashed });
        break;
    }
    return { status: answer.status, cache: answer.cache, body: answer.json as Outcome['body'] };
  }

  beforeAll(async () => {
    manifestDir = await mkdtemp(path.join(tmpdir(), 'memegraph-shapes-'));
    const manifest = path.join(manifestDir, 'persisted-query-manifest.json');
    await writeFile(
      manifest,
      JSON.stringify({
        format: 'apollo-persisted-query-manifest',
        version: 1,
        operations: ALL_DOCUMENTS.map((body) => ({ id: sha256(body), body })),
      }),
    );
    stack = await startStack({
      routerEnv: {
        TIERS_JSON: JSON.stringify(
          Object.fromEntries(
            ['anonymous', 'free', 'premium'].map((tier) => [tier, { requestsPerMinute: 100_000, maxBatchSize: 5 }]),
          ),
        ),
      },
    });
    const env = { TRUSTED_DOCUMENTS_MANIFEST: manifest, TRUSTED_DOCUMENTS_MODE: 'log' };
    [a, b] = [await stack.addRouter(env), await stack.addRouter(env)];
    // APQ registration, anonymously: queries run harmlessly, mutations are refused for want of a
    // viewer (nothing runs), and the hashes are known to every router from then on.
    for (const query of ALL_DOCUMENTS) {
      const registered = await fetch(`${a}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query, extensions: { persistedQuery: { version: 1, sha256Hash: sha256(query) } } }),
      });
      expect(registered.status).toBeLessThan(500);
    }
  });

  afterAll(async () => {
    await stack?.close();
    await rm(manifestDir, { recursive: true, force: true });
  });

  it('authorization: a field the viewer may not see is null with UNAUTHORIZED_FIELD_OR_TYPE, unless @skip leaves it out; a null condition is a coded BAD_USER_INPUT, never a 5xx', async () => {
    const free = await signUp(stack.routerUrl, 'shape_free');
    const auth = { authorization: `Bearer ${free.token}` };
    const outcomes: Record<string, unknown> = {};
    for (const variant of VARIANTS) {
      for (const transport of QUERY_TRANSPORTS) {
        const denied = await send(a, transport, AI_FIELD[variant], { s: false }, auth);
        const skipped = await send(a, transport, AI_FIELD[variant], { s: true }, auth);
        const nullCondition = await send(a, transport, AI_FIELD[variant], { s: null }, auth);
        outcomes[`${variant} by ${transport}`] = {
          denied: {
            status: denied.status,
            codes: [...new Set(denied.body.errors?.map((e) => e.extensions?.code))],
            served: !!denied.body.data,
          },
          skipped: { status: skipped.status, errors: skipped.body.errors?.length ?? 0, served: !!skipped.body.data },
          nullCondition: {
            codes: nullCondition.body.errors?.map((e) => e.extensions?.code),
            served: !!nullCondition.body.data,
          },
        };
      }
    }
    const expected = {
      denied: { status: 200, codes: ['UNAUTHORIZED_FIELD_OR_TYPE'], served: true },
      skipped: { status: 200, errors: 0, served: true },
      // Never a 5xx: a coded error and nothing run.
      nullCondition: { codes: ['BAD_USER_INPUT'], served: false },
    };
    for (const [shape, outcome] of Object.entries(outcomes)) expect(outcome, shape).toEqual(expected);
  });

  it('an alias beginning with memegraph, reserved for the router, is a 400 GRAPHQL_VALIDATION_FAILED in every shape, at no subgraph call', async () => {
    const strict = { accept: 'application/graphql-response+json' };
    const before = stack.subgraphRequests();
    const outcomes: Record<string, unknown> = {};
    for (const variant of VARIANTS) {
      const alias = /(memegraph\w*):/.exec(RESERVED[variant])![1]!;
      // Twice: a refusal is never kept and served again.
      for (const round of [1, 2]) {
        for (const transport of QUERY_TRANSPORTS) {
          const outcome = await send(a, transport, RESERVED[variant], {}, strict);
          const error = outcome.body.errors?.[0];
          outcomes[`${variant} by ${transport}, ${round}`] = {
            status: outcome.status,
            code: error?.extensions?.code,
            named: !!error?.message.includes(`"${alias}"`) && error.message.includes('reserves'),
            served: outcome.body.data !== undefined,
          };
        }
      }
      // On a router without the manifest, the hash is APQ's alone: its registration is refused, so it is never known.
      const registered = await fetch(`${stack.routerUrl}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...strict },
        body: JSON.stringify({
          query: RESERVED[variant],
          extensions: { persistedQuery: { version: 1, sha256Hash: sha256(RESERVED[variant]) } },
        }),
      });
      const registration = (await registered.json()) as Outcome['body'];
      outcomes[`${variant}, APQ registration`] = {
        status: registered.status,
        code: registration.errors?.[0]?.extensions?.code,
        named:
          !!registration.errors?.[0]?.message.includes(`"${alias}"`) &&
          registration.errors[0].message.includes('reserves'),
        served: registration.data !== undefined,
      };
      const lookup = await send(stack.routerUrl, 'APQ hash', RESERVED[variant], {}, strict);
      expect(lookup.body.errors?.[0]?.extensions?.code, `${variant}, APQ lookup`).toBe('PERSISTED_QUERY_NOT_FOUND');
    }
    const refused = { status: 400, code: 'GRAPHQL_VALIDATION_FAILED', named: true, served: false };
    for (const [shape, outcome] of Object.entries(outcomes)) {
      // In a batch it is refused alone: the batch is answered, its other operation served (below).
      expect(outcome, shape).toEqual(shape.includes('by batch') ? { ...refused, status: 200 } : refused);
    }
    expect(stack.subgraphRequests()).toEqual(before);

    // Beside them, well-formed operations run: the other operation of a batch, whose alias only looks alike.
    const batch = await fetch(`${a}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...strict },
      body: JSON.stringify([{ query: RESERVED.plain }, { query: '{ trending(first: 2) { id Memegraph: title } }' }]),
    });
    expect(batch.status).toBe(200);
    const [bad, good] = (await batch.json()) as Outcome['body'][];
    expect(bad!.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(good!.errors).toBeUndefined();
    const memes = (good!.data as { trending: { id: string; Memegraph: string }[] }).trending;
    expect(memes).toHaveLength(2);
    for (const meme of memes) expect(meme.Memegraph).toEqual(expect.any(String));
  });

  it('a subscription with an alias beginning with memegraph is refused over SSE and WebSocket; a well-formed one is followed', async () => {
    const owner = await signUp(stack.routerUrl, 'shape_follower', 'PREMIUM');
    const started = await owner.client<{ generateMeme: { id: string } }>(
      `mutation { generateMeme(input: { prompt: "a name the router keeps for itself" }) { id } }`,
    );
    expect(started.body.errors).toBeUndefined();
    const id = started.body.data!.generateMeme.id;
    const sse = createSseClient({
      url: `${a}/graphql/stream`,
      headers: { authorization: `Bearer ${owner.token}` },
      retryAttempts: 0,
    });
    const ws = createWsClient({
      url: `${a.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${owner.token}` },
      retryAttempts: 0,
      lazy: true,
    });
    type Event = { data?: { generationUpdated?: { id: string } } | null; errors?: GraphQLResponse['body']['errors'] };
    /** The first event of a subscription, or the errors it was refused with. */
    const first = async (transport: 'SSE' | 'WebSocket', query: string): Promise<Event> => {
      if (transport === 'SSE') {
        const events = sse.iterate({ query, variables: { id } });
        const event = (await events.next()).value as Event;
        await events.return?.();
        return event;
      }
      return new Promise<Event>((resolve) => {
        const stop = ws.subscribe(
          { query, variables: { id } },
          {
            next: (event) => {
              stop();
              resolve(event as Event);
            },
            error: (errors) => resolve({ errors: errors as Event['errors'] }),
            complete: () => undefined,
          },
        );
      });
    };
    const refused = {
      plain: `subscription($id: ID!) { generationUpdated(id: $id) { id memegraphId: status } }`,
      'named fragment': `subscription($id: ID!) { generationUpdated(id: $id) { ...P } } fragment P on Generation { memegraphId_Generation: status }`,
      'inline fragment': `subscription($id: ID!) { generationUpdated(id: $id) { ... on Generation { memegraphType: id } } }`,
    };
    for (const transport of ['SSE', 'WebSocket'] as const) {
      for (const [variant, query] of Object.entries(refused)) {
        const event = await first(transport, query);
        expect(event.data ?? null, `${variant} over ${transport}`).toBeNull();
        expect(event.errors?.[0]?.extensions?.code, `${variant} over ${transport}`).toBe('GRAPHQL_VALIDATION_FAILED');
        expect(event.errors?.[0]?.message).toContain('reserves');
      }
      const followed = await first(
        transport,
        `subscription($id: ID!) { generationUpdated(id: $id) { id Memegraph: status } }`,
      );
      expect(followed.errors, transport).toBeUndefined();
      expect(followed.data?.generationUpdated, transport).toMatchObject({ id, Memegraph: expect.any(String) });
    }
    await ws.dispose();
  });

  it('a fragment bomb, shallow but spread out past any limit, is refused for its size, not for a depth it does not have', async () => {
    // Each fragment spreads the next twice: 2^17 selections of `id`, two levels deep, in a few hundred bytes.
    const names = Array.from({ length: 18 }, (_, i) => `F${i}`);
    const bomb = [
      `{ trending(first: 1) { ...F0 } }`,
      ...names.slice(0, -1).map((name, i) => `fragment ${name} on Meme { ...${names[i + 1]} ...${names[i + 1]} }`),
      `fragment ${names.at(-1)} on Meme { id }`,
    ].join(' ');
    const before = stack.subgraphRequests();
    const strict = { accept: 'application/graphql-response+json' };
    for (const transport of ['POST', 'GET', 'batch'] as const) {
      const outcome = await send(a, transport, bomb, {}, strict);
      expect(outcome.status, transport).toBe(transport === 'batch' ? 200 : 400);
      expect(outcome.body.errors?.[0]?.extensions?.code, transport).toBe('MAX_TOKENS_EXCEEDED');
      expect(outcome.body.errors?.[0]?.message, transport).toContain('fragments spread out');
      expect(outcome.body.data, transport).toBeUndefined();
    }
    expect(stack.subgraphRequests()).toEqual(before);
  });

  it('a condition in another operation of the document does not decide this one', async () => {
    const DOCUMENT = `query A($s: Boolean!) { plans @skip(if: $s) { tier } } query B { plans { tier } }`;
    const asked = { query: DOCUMENT, operationName: 'B' };
    const answers = [
      await fetch(`${a}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(asked),
      }),
      await fetch(`${a}/graphql?${new URLSearchParams(asked)}`, { headers: { 'apollo-require-preflight': 'true' } }),
      await fetch(`${a}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([{ query: '{ __typename }' }, asked]),
      }),
    ];
    for (const [i, answer] of answers.entries()) {
      const json = (await answer.json()) as Outcome['body'] | Outcome['body'][];
      const body = Array.isArray(json) ? json[1]! : json;
      expect(body.errors, ['POST', 'GET', 'batch'][i]).toBeUndefined();
      expect((body.data as { plans: unknown[] }).plans).toHaveLength(4);
    }
  });

  it('a hit in every shape is the answer stored for its own variables, asked again on the router that learnt it', async () => {
    // Sent twice in a row in each shape, with the condition both ways: the second is a hit (answered from the
    // stored bytes, before Apollo, but for a batch), with the same data as the first, and the two conditions
    // never answer for each other.
    const seen: Record<string, unknown> = {};
    // The answer's objects: the data, 4 memes, and with the condition true their 4 authors.
    const objects = (o: Outcome) => JSON.stringify(o.body.data ?? null).split('{').length - 1;
    for (const variant of VARIANTS) {
      for (const transport of QUERY_TRANSPORTS) {
        for (const withAuthors of [false, true]) {
          const first = await send(b, transport, COSTED[variant], { with: withAuthors });
          const again = await send(b, transport, COSTED[variant], { with: withAuthors });
          seen[`${variant} by ${transport}, with: ${withAuthors}`] = {
            status: again.status,
            hit: transport === 'batch' || again.cache === 'HIT',
            same: JSON.stringify(again.body.data) === JSON.stringify(first.body.data),
            objects: objects(again),
            cost: (again.body.extensions?.cost as { requestedQueryCost: number } | undefined)?.requestedQueryCost,
          };
        }
      }
    }
    for (const [shape, outcome] of Object.entries(seen)) {
      const withAuthors = shape.endsWith('true');
      expect(outcome, shape).toEqual({
        status: 200,
        hit: true,
        same: true,
        objects: withAuthors ? 9 : 5,
        cost: withAuthors ? 8 : 4,
      });
    }
  });

  it('cost: every shape of one operation is estimated the same, and @include decides with its variable', async () => {
    const costs: Record<string, [number, number]> = {};
    for (const variant of VARIANTS) {
      for (const transport of QUERY_TRANSPORTS) {
        const without = await send(a, transport, COSTED[variant], { with: false });
        const withAuthors = await send(a, transport, COSTED[variant], { with: true });
        const cost = (o: Outcome) =>
          (o.body.extensions?.cost as { requestedQueryCost: number } | undefined)?.requestedQueryCost ?? -1;
        costs[`${variant} by ${transport}`] = [cost(without), cost(withAuthors)];
      }
    }
    // trending(first: 4): 4 memes; with authors, 4 more objects.
    for (const [shape, cost] of Object.entries(costs)) expect(cost, shape).toEqual([4, 8]);
  });

  it('a key revoked through any shape on router A is refused by router B within one second', async () => {
    for (const variant of VARIANTS) {
      const owner = await signUp(stack.routerUrl, `revoker_${VARIANTS.indexOf(variant)}`);
      const auth = { authorization: `Bearer ${owner.token}` };
      for (const transport of MUTATION_TRANSPORTS) {
        const made = await owner.client<{ createApiKey: { secret: string; apiKey: { id: string } } }>(
          `mutation { createApiKey(name: "shape") { secret apiKey { id } } }`,
        );
        const { secret, apiKey } = made.body.data!.createApiKey;
        const onB = routerClient(b, { 'x-api-key': secret });
        expect((await onB(`{ me { id } }`)).status).toBe(200); // B now holds the viewer in its caches
        const revoked = await send(a, transport, REVOKE[variant], { id: apiKey.id }, auth);
        expect(revoked.body.errors, `${variant} by ${transport}`).toBeUndefined();
        await eventually(async () => (await onB(`{ me { id } }`)).status === 401, 1000).catch(() => {
          throw new Error(`${variant} by ${transport}: the revoked key still works on router B after 1 s`);
        });
      }
    }
  });

  it('a plan cancelled through any shape on router A ends AI access on router B within one second', async () => {
    for (const variant of VARIANTS) {
      const viewer = await signUp(stack.routerUrl, `canceller_${VARIANTS.indexOf(variant)}`);
      const auth = { authorization: `Bearer ${viewer.token}` };
      const onB = routerClient(b, auth);
      const aiOnB = async () => (await onB(AI_FIELD.plain, { s: false })).body.errors === undefined;
      for (const transport of MUTATION_TRANSPORTS) {
        await subscribeTo(viewer.client, 'PREMIUM');
        await eventually(aiOnB, 1000);
        const cancelled = await send(a, transport, CANCEL[variant], {}, auth);
        expect(cancelled.body.errors, `${variant} by ${transport}`).toBeUndefined();
        await eventually(async () => !(await aiOnB()), 1000).catch(() => {
          throw new Error(`${variant} by ${transport}: AI access still granted on router B after 1 s`);
        });
      }
    }
  });

  it('a vote through any shape on router A shows on router B at once, not the cached score', async () => {
    const voter = await signUp(stack.routerUrl, 'shape_voter');
    const auth = { authorization: `Bearer ${voter.token}` };
    let memeId = 0;
    for (const variant of VARIANTS) {
      for (const transport of MUTATION_TRANSPORTS) {
        memeId += 1;
        const SCORE = `query($id: ID!) { meme(id: $id) { score } }`;
        const onB = () => routerClient(b)<{ meme: { score: number } }>(SCORE, { id: String(memeId) });
        const before = await onB();
        expect((await onB()).headers.get('x-cache'), 'the score is cached on B').toBe('HIT');
        const voted = await send(a, transport, VOTE[variant], { id: String(memeId), v: 1 }, auth);
        expect(voted.body.errors, `${variant} by ${transport}`).toBeUndefined();
        const after = Object.values(voted.body.data as Record<string, Record<string, number>>)[0]!;
        const score = Object.values(after)[0]!;
        expect(score).toBe(before.body.data!.meme.score + 1);
        await eventually(async () => (await onB()).body.data!.meme.score === score, 1000).catch(() => {
          throw new Error(`${variant} by ${transport}: router B still answers the old score after 1 s`);
        });
      }
    }
  });

  it('a vote purges on router B the cached answers that asked for the meme’s id themselves, in every shape', async () => {
    const voter = await signUp(stack.routerUrl, 'id_shape_voter');
    const auth = { authorization: `Bearer ${voter.token}` };
    // The router adds no id of its own where the client asked for it on a path of one type, and tags the answer from
    // the client's id instead: every way of asking must still tag it.
    const READS: Record<string, string> = {
      plain: `query($id: ID!) { meme(id: $id) { id score } }`,
      aliased: `query($id: ID!) { m: meme(id: $id) { key: id points: score } }`,
      'named fragment': `query($id: ID!) { meme(id: $id) { ...S } } fragment S on Meme { id score }`,
      'inline fragment': `query($id: ID!) { meme(id: $id) { ... on Meme { id score } } }`,
      'nested, id asked at every level': `query($id: ID!) { meme(id: $id) { id author { id handle } template { id name } score } }`,
    };
    const scoreOf = (data: unknown) => JSON.stringify(data).match(/"(?:score|points)":(-?\d+)/)![1];
    let memeId = 100;
    for (const [shape, read] of Object.entries(READS)) {
      memeId += 1;
      const onB = () => routerClient(b)(read, { id: String(memeId) });
      const before = await onB();
      expect(before.body.errors, shape).toBeUndefined();
      expect((await onB()).headers.get('x-cache'), `${shape}: cached on B`).toBe('HIT');
      const voted = await send(a, 'POST', VOTE.plain, { id: String(memeId), v: 1 }, auth);
      expect(voted.body.errors, shape).toBeUndefined();
      const score = String(Number(scoreOf(before.body.data)) + 1);
      await eventually(async () => scoreOf((await onB()).body.data) === score, 1000).catch(() => {
        throw new Error(`${shape}: router B still answers the old score after 1 s`);
      });
    }
  });

  it('field rate limits count each executed occurrence: aliases count twice, fragments once, skipped ones not at all', async () => {
    const successes: Record<string, number> = {};
    for (const variant of VARIANTS) {
      // createApiKey: 10 an hour per viewer. A fresh viewer for each variant, sent in every transport in turn.
      const account: TestAccount = await signUp(stack.routerUrl, `limited_${VARIANTS.indexOf(variant)}`);
      const auth = { authorization: `Bearer ${account.token}` };
      // Skipped occurrences first: they must not count.
      for (const transport of MUTATION_TRANSPORTS) {
        const skipped = await send(a, transport, KEY_LIMITED[variant], { s: true }, auth);
        expect(skipped.body.errors, `${variant} by ${transport}, skipped`).toBeUndefined();
      }
      let made = 0;
      for (let i = 0; i < 12; i++) {
        const transport = MUTATION_TRANSPORTS[i % MUTATION_TRANSPORTS.length]!;
        const answer = await send(i % 2 ? a : b, transport, KEY_LIMITED[variant], { s: false }, auth);
        made += Object.values(answer.body.data ?? {}).filter((v) => v !== null).length;
        if (answer.body.errors?.some((e) => e.extensions?.code === 'RATE_LIMIT_EXCEEDED')) break;
      }
      successes[variant] = made;
    }
    expect(successes).toEqual({ plain: 10, aliased: 10, 'named fragment': 10, 'inline fragment': 10 });
  });
});

describe('limits count operations, not HTTP requests', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack();
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('200 concurrent batches of 5 through two routers admit exactly the per-minute limit of operations', async () => {
    const env = {
      TIERS_JSON: JSON.stringify({ anonymous: { requestsPerMinute: 100, maxBatchSize: 10 } }),
      REDIS_PREFIX: `${stack.routerEnv.REDIS_PREFIX}batch:`,
    };
    const routers = [await stack.addRouter(env), await stack.addRouter(env)];
    const batch = Array.from({ length: 5 }, () => ({ query: '{ plans { tier } }' }));
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        fetch(`${routers[i % 2]}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(batch),
        }),
      ),
    );
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(statuses.filter((s) => s === 429)).toHaveLength(180);
    // A refused batch takes nothing: the window is full at exactly 100.
    const single = await routerClient(routers[0]!)(`{ plans { tier } }`);
    expect(single.status).toBe(429);
    expect(single.headers.get('x-ratelimit-remaining')).toBe('0');
  });

  /** A router of its own with these anonymous limits, and a POST to it of a batch of that many plain queries. */
  const batchesTo = async (name: string, anonymous: Record<string, number>) => {
    const router = await stack.addRouter({
      TIERS_JSON: JSON.stringify({ anonymous }),
      REDIS_PREFIX: `${stack.routerEnv.REDIS_PREFIX}${name}:`,
    });
    return (operations: number) =>
      fetch(`${router}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(Array.from({ length: operations }, () => ({ query: '{ plans { tier } }' }))),
      });
  };

  it('a batch over what is left of the allowance is refused whole and takes nothing; smaller requests still fit', async () => {
    const post = await batchesTo('left', { requestsPerMinute: 12, maxBatchSize: 10 });
    const first = await post(10);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-remaining')).toBe('2');
    const tooMany = await post(3);
    expect(tooMany.status).toBe(429);
    expect(((await tooMany.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe(
      'RATE_LIMIT_EXCEEDED',
    );
    expect(tooMany.headers.get('x-ratelimit-remaining')).toBe('2');
    const fits = await post(2);
    expect(fits.status).toBe(200);
    expect(fits.headers.get('x-ratelimit-remaining')).toBe('0');
  });

  it('an operation of a batch refused on its own (operation limits, an unknown APQ hash) still counts', async () => {
    const env = {
      TIERS_JSON: JSON.stringify({ anonymous: { requestsPerMinute: 10, maxBatchSize: 10, maxAliases: 1 } }),
      REDIS_PREFIX: `${stack.routerEnv.REDIS_PREFIX}refused-in-batch:`,
    };
    const router = await stack.addRouter(env);
    const answer = await fetch(`${router}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        { query: '{ plans { tier } }' },
        { query: '{ a: plans { tier } b: plans { tier } }' },
        { extensions: { persistedQuery: { version: 1, sha256Hash: sha256('{ never registered }') } } },
      ]),
    });
    expect(answer.status).toBe(200);
    const codes = ((await answer.json()) as Outcome['body'][]).map((body) => body.errors?.[0]?.extensions?.code);
    expect(codes).toEqual([undefined, 'MAX_ALIASES_EXCEEDED', 'PERSISTED_QUERY_NOT_FOUND']);
    expect(answer.headers.get('x-ratelimit-remaining')).toBe('7');
  });

  it('a batch the daily quota refuses takes nothing from the minute either: a smaller request that fits both is served', async () => {
    const post = await batchesTo('day-refused', { requestsPerMinute: 10, dailyRequestQuota: 9, maxBatchSize: 10 });
    const first = await post(6);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-remaining')).toBe('4');
    // 4 fit in the minute (6 + 4 = 10) but not in the day (6 + 4 > 9): refused by the day, counted by neither.
    const overDay = await post(4);
    expect(overDay.status).toBe(429);
    expect(
      ((await overDay.json()) as { errors: { extensions: Record<string, unknown> }[] }).errors[0]!.extensions,
    ).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED', quota: 'daily' });
    expect(overDay.headers.get('x-ratelimit-remaining')).toBe('4');
    // 3 fit in both (6 + 3 = 9 of the day, 9 of the minute's 10).
    const fits = await post(3);
    expect(fits.status).toBe(200);
    expect(fits.headers.get('x-ratelimit-remaining')).toBe('1');
  });

  it('the daily quota counts every operation of a batch', async () => {
    const env = {
      TIERS_JSON: JSON.stringify({ free: { dailyRequestQuota: 10, maxBatchSize: 10 } }),
      REDIS_PREFIX: `${stack.routerEnv.REDIS_PREFIX}daily:`,
    };
    const router = await stack.addRouter(env);
    const account = await signUp(stack.routerUrl, 'batch_quota');
    const post = (operations: number) =>
      fetch(`${router}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${account.token}` },
        body: JSON.stringify(Array.from({ length: operations }, () => ({ query: '{ me { id } }' }))),
      });
    expect((await post(4)).status).toBe(200);
    expect((await post(4)).status).toBe(200);
    const over = await post(4);
    expect(over.status).toBe(429);
    expect(
      ((await over.json()) as { errors: { extensions: Record<string, unknown> }[] }).errors[0]!.extensions,
    ).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED', quota: 'daily' });
    expect((await post(2)).status).toBe(200);
    expect((await post(1)).status).toBe(429);
  });
});
