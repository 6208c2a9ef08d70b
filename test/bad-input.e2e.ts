import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, type TestAccount } from './support/accounts';
import { routerClient } from './support/client';
import { startStack, type Stack } from './support/stack';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ users: 5, memes: 20 });
});
afterAll(() => stack?.close());

interface Answer {
  status: number;
  code?: string;
  contentType: string | null;
  body: unknown;
  ms: number;
}

const GRAPHQL_RESPONSE = 'application/graphql-response+json';

/** Sends a request as a client that asks for application/graphql-response+json unless `headers` say otherwise. */
async function send(init: RequestInit & { path?: string }): Promise<Answer> {
  const started = Date.now();
  const headers = new Headers(init.headers);
  if (!headers.has('accept')) headers.set('accept', GRAPHQL_RESPONSE);
  const response = await fetch(`${stack.routerUrl}${init.path ?? '/graphql'}`, { ...init, headers });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const code = (body as { errors?: { extensions?: { code?: string } }[] } | undefined)?.errors?.[0]?.extensions?.code;
  expect(text).not.toMatch(/\bat .+\.(ts|js):\d+/);
  return {
    status: response.status,
    code,
    contentType: response.headers.get('content-type'),
    body,
    ms: Date.now() - started,
  };
}

const json = { 'content-type': 'application/json' };

describe('bad input gets a clear coded error, fast, and the router stays healthy', () => {
  it.each<[string, RequestInit, number, string]>([
    ['malformed JSON', { method: 'POST', headers: json, body: '{"query": "{ plans { tier } }"' }, 400, 'BAD_REQUEST'],
    ['an empty body', { method: 'POST', headers: json, body: '' }, 400, 'BAD_REQUEST'],
    [
      'a text/plain body',
      { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{ plans { tier } }' },
      415,
      'BAD_REQUEST',
    ],
    [
      'a form body',
      { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'query=%7B%7D' },
      415,
      'BAD_REQUEST',
    ],
    [
      'a JSON array that is not a batch of operations',
      { method: 'POST', headers: json, body: '[1]' },
      400,
      'BAD_REQUEST',
    ],
    ['a query that is not a string', { method: 'POST', headers: json, body: '{"query": 42}' }, 400, 'BAD_REQUEST'],
    [
      'a 5 MB body',
      {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ query: '{ plans { tier } }', variables: { x: 'y'.repeat(5_000_000) } }),
      },
      413,
      'PAYLOAD_TOO_LARGE',
    ],
    [
      'a deeply nested query',
      {
        method: 'POST',
        headers: json,
        body: JSON.stringify({
          query: `{ ${'trending { author { memes { edges { node { '.repeat(6)} id ${'} } } } }'.repeat(6)} }`,
        }),
      },
      400,
      'MAX_DEPTH_EXCEEDED',
    ],
    [
      'an alias bomb',
      {
        method: 'POST',
        headers: json,
        body: JSON.stringify({
          query: `{ ${Array.from({ length: 40 }, (_, i) => `a${i}: plans { tier }`).join(' ')} }`,
        }),
      },
      400,
      'MAX_ALIASES_EXCEEDED',
    ],
    [
      'a batch past the limit',
      {
        method: 'POST',
        headers: json,
        body: JSON.stringify([{ query: '{ plans { tier } }' }, { query: '{ plans { tier } }' }]),
      },
      400,
      'BATCH_TOO_LARGE',
    ],
    [
      'an operationName the document does not hold',
      {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ query: 'query A { plans { tier } }', operationName: 'B' }),
      },
      400,
      'OPERATION_RESOLUTION_FAILURE',
    ],
    [
      'two operations and no operationName',
      {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ query: 'query A { plans { tier } } query B { plans { tier } }' }),
      },
      400,
      'OPERATION_RESOLUTION_FAILURE',
    ],
    ['a DELETE', { method: 'DELETE' }, 405, 'BAD_REQUEST'],
  ])('%s', async (_name, init, status, code) => {
    const answer = await send(init);
    expect(answer.status).toBe(status);
    expect(answer.code).toBe(code);
    expect(answer.ms).toBeLessThan(1_000);
  });

  it('a 2 MB document of same-named fields is refused before parsing', async () => {
    const query = `{ ${'plans { tier } '.repeat(140_000)} }`;
    const answer = await send({ method: 'POST', headers: json, body: JSON.stringify({ query }) });
    expect([400, 413]).toContain(answer.status);
    expect(answer.ms).toBeLessThan(1_000);
  });

  it('is still healthy and serving afterwards', async () => {
    expect((await fetch(`${stack.routerUrl}/health`)).status).toBe(200);
    expect((await routerClient(stack.routerUrl)(`{ plans { tier } }`)).status).toBe(200);
  });
});

/** Text PostgreSQL cannot store (it refuses NUL in text) is the client's mistake, wherever it is sent. */
describe('text with a NUL byte is a 400 BAD_USER_INPUT, not a 5xx', () => {
  let premium: TestAccount;
  beforeAll(async () => {
    premium = await signUp(stack.routerUrl, 'nul_premium', 'PREMIUM');
  });
  const nul = 'cat\u0000dog';
  const cases: [string, string, Record<string, unknown>, boolean][] = [
    ['search text in a variable', 'query($t: String!) { search(text: $t) { id } }', { t: nul }, false],
    ['search text inline', '{ search(text: "cat\\u0000dog") { id } }', {}, false],
    ['a generateMeme prompt', 'mutation($p: String!) { generateMeme(input: { prompt: $p }) { id } }', { p: nul }, true],
    [
      'a meme title',
      'mutation($t: String!) { createMeme(input: { title: $t, topText: "a", bottomText: "b", templateId: "1" }) { id } }',
      { t: nul },
      true,
    ],
    [
      'a meme caption',
      'mutation($t: String!) { createMeme(input: { title: "t", topText: $t, bottomText: "b", templateId: "1" }) { id } }',
      { t: nul },
      true,
    ],
    [
      'a tag',
      'mutation($t: String!) { createMeme(input: { title: "t", topText: "a", bottomText: "b", templateId: "1", tags: [$t] }) { id } }',
      { t: nul },
      true,
    ],
    ['a tag filter', 'query($t: String!) { memes(tag: $t) { edges { node { id } } } }', { t: nul }, false],
    ['an API key name', 'mutation($n: String!) { createApiKey(name: $n) { secret } }', { n: nul }, true],
    [
      'a handle at sign-up',
      'mutation($h: String!) { signUp(handle: $h, password: "a long test password") { token } }',
      { h: nul },
      false,
    ],
    [
      'a display name',
      'mutation($d: String!) { signUp(handle: "nul_display", password: "a long test password", displayName: $d) { token } }',
      { d: nul },
      false,
    ],
    [
      'a handle at log-in',
      'mutation($h: String!) { logIn(handle: $h, password: "a long test password") { token } }',
      { h: nul },
      false,
    ],
  ];
  it.each(cases)('%s', async (_name, query, variables, signedIn) => {
    const client = signedIn ? premium.client : routerClient(stack.routerUrl);
    const answer = await client(query, variables);
    expect(answer.body.errors?.[0]?.extensions?.code, JSON.stringify(answer.body.errors)).toBe('BAD_USER_INPUT');
    expect(answer.status).toBe(400);
  });
});

const nested = (depth: number, open: string, close: string, leaf: string) =>
  `${open.repeat(depth)}${leaf}${close.repeat(depth)}`;

describe('JSON nested past any real input is refused before any work', () => {
  it.each([
    ['an unused array variable 10,000 deep', nested(10_000, '[', ']', '')],
    ['an unused object variable 10,000 deep', nested(10_000, '{"a":', '}', '1')],
    ['a declared variable 10,000 deep', nested(10_000, '[', ']', '"a"')],
  ])('%s', async (name, value) => {
    const query = name.includes('declared')
      ? 'query($x: String) { memes(tag: $x) { edges { node { id } } } }'
      : '{ plans { tier } }';
    const body = `{"query":${JSON.stringify(query)},"variables":{"x":${value}}}`;
    const answer = await send({ method: 'POST', headers: json, body });
    expect(answer.status).toBe(400);
    expect(answer.code).toBe('BAD_REQUEST');
  });

  it('in extensions too, and in a GET', async () => {
    const body = `{"query":"{ plans { tier } }","extensions":{"x":${nested(10_000, '[', ']', '')}}}`;
    expect(await send({ method: 'POST', headers: json, body })).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
    const variables = encodeURIComponent(`{"x":${nested(1_000, '[', ']', '')}}`);
    const get = await send({
      path: `/graphql?query=${encodeURIComponent('{ plans { tier } }')}&variables=${variables}`,
    });
    expect(get).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
  });

  it('while input nested as deep as real clients send is served', async () => {
    const answer = await routerClient(stack.routerUrl)('{ plans { tier } }', {
      x: [[[['a']]]],
      y: { a: { b: { c: [1, [2]] } } },
    });
    expect(answer.status).toBe(200);
    expect(answer.body.errors).toBeUndefined();
  });
});

describe('operations the schema has no root type for', () => {
  it('a subscription is a 400 GRAPHQL_VALIDATION_FAILED', async () => {
    const answer = await send({
      method: 'POST',
      headers: json,
      body: JSON.stringify({ query: 'subscription { plans { tier } }' }),
    });
    expect(answer).toMatchObject({ status: 400, code: 'GRAPHQL_VALIDATION_FAILED' });
    const named = await send({
      method: 'POST',
      headers: json,
      body: JSON.stringify({ query: 'subscription S { x } query Q { plans { tier } }', operationName: 'S' }),
    });
    expect(named).toMatchObject({ status: 400, code: 'GRAPHQL_VALIDATION_FAILED' });
  });
});

describe('router-level errors follow Accept like every other answer', () => {
  const deep = JSON.stringify({
    query: `{ ${'trending { author { memes { edges { node { '.repeat(6)} id ${'} } } } }'.repeat(6)} }`,
  });
  it.each<[string, RequestInit, number]>([
    [
      'an invalid credential (401)',
      {
        method: 'POST',
        headers: { ...json, authorization: 'Bearer not-a-token' },
        body: '{"query":"{ plans { tier } }"}',
      },
      401,
    ],
    ['malformed JSON (400)', { method: 'POST', headers: json, body: '{"query":' }, 400],
    [
      'a body that is not JSON (415)',
      { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{ plans { tier } }' },
      415,
    ],
    [
      'a body past the limit (413)',
      {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ query: '{ plans { tier } }', variables: { x: 'y'.repeat(600_000) } }),
      },
      413,
    ],
    ['an operation past a limit (400)', { method: 'POST', headers: json, body: deep }, 400],
    ['a PUT (405)', { method: 'PUT', headers: json, body: '{}' }, 405],
  ])('%s: application/graphql-response+json when asked for', async (_name, init, status) => {
    const answer = await send(init);
    expect(answer.status).toBe(status);
    expect(answer.contentType).toBe('application/graphql-response+json; charset=utf-8');
    expect(answer.code).toEqual(expect.any(String));
  });

  it('application/json when asked for it, for anything, or for nothing', async () => {
    for (const accept of ['application/json', '*/*', undefined]) {
      const headers: Record<string, string> = {
        ...json,
        authorization: 'Bearer not-a-token',
        ...(accept ? { accept } : {}),
      };
      const answer = await fetch(`${stack.routerUrl}/graphql`, {
        method: 'POST',
        headers,
        body: '{"query":"{ plans { tier } }"}',
      });
      expect(answer.status, accept).toBe(401);
      expect(answer.headers.get('content-type'), accept).toBe('application/json; charset=utf-8');
    }
  });

  /** The GraphQL-over-HTTP spec: a legacy application/json client cannot tell a 4xx from a proxy's, so GraphQL errors are 200. */
  it.each<[string, string, number, string]>([
    ['a parse error', '{"query":"{ plans { tier "}', 200, 'GRAPHQL_PARSE_FAILED'],
    ['a validation error', '{"query":"{ nope }"}', 200, 'GRAPHQL_VALIDATION_FAILED'],
    ['an operation past a limit', deep, 200, 'MAX_DEPTH_EXCEEDED'],
    [
      'an operationName the document does not hold',
      '{"query":"query A { plans { tier } }","operationName":"B"}',
      200,
      'OPERATION_RESOLUTION_FAILURE',
    ],
    ['a query that is not a string (not a well-formed request)', '{"query":42}', 400, 'BAD_REQUEST'],
  ])('with application/json, %s', async (_name, body, status, code) => {
    const answer = await send({ method: 'POST', headers: { ...json, accept: 'application/json' }, body });
    expect(answer).toMatchObject({ status, code, contentType: 'application/json; charset=utf-8' });
    const strict = await send({ method: 'POST', headers: json, body });
    expect(strict).toMatchObject({
      status: 400,
      code,
      contentType: 'application/graphql-response+json; charset=utf-8',
    });
  });
});

describe('a batch answers every operation, each refused one with its own coded error', () => {
  let member: TestAccount;
  beforeAll(async () => {
    member = await signUp(stack.routerUrl, 'batch_member');
  });
  const good = { query: '{ plans { tier } }' };
  const batch = (operations: unknown[], router = stack.routerUrl, accept = GRAPHQL_RESPONSE) =>
    fetch(`${router}/graphql`, {
      method: 'POST',
      headers: { ...json, accept, authorization: `Bearer ${member.token}` },
      body: JSON.stringify(operations),
    });
  type Answers = { data?: unknown; errors?: { extensions?: { code?: string } }[] }[];
  const codes = (answers: Answers) =>
    answers.map((answer) => answer.errors?.[0]?.extensions?.code ?? (answer.data ? 'data' : 'none'));

  it.each([GRAPHQL_RESPONSE, 'application/json'])(
    'with one operation refused at admission, GraphQL or HTTP, all are answered (%s)',
    async (accept) => {
      const tooDeep = {
        query: `{ ${'trending { author { memes { edges { node { '.repeat(6)} id ${'} } } } }'.repeat(6)} }`,
      };
      const response = await batch(
        [good, tooDeep, { query: '{ plans { tier ' }, { query: 42 }, { query: '{ nope }' }],
        stack.routerUrl,
        accept,
      );
      expect(response.status).toBe(200);
      const answers = (await response.json()) as Answers;
      expect(codes(answers)).toEqual([
        'data',
        'MAX_DEPTH_EXCEEDED',
        'GRAPHQL_PARSE_FAILED',
        'BAD_REQUEST',
        'GRAPHQL_VALIDATION_FAILED',
      ]);
      expect(answers[0]!.data).toMatchObject({ plans: expect.any(Array) });
    },
  );

  it('a batch whose every operation is refused is still a batch answer', async () => {
    const response = await batch([{ query: 1 }, null]);
    expect(response.status).toBe(200);
    expect(codes((await response.json()) as Answers)).toEqual(['BAD_REQUEST', 'BAD_REQUEST']);
  });

  it('on a router enforcing trusted documents, an operation not in the list is refused alone', async () => {
    const manifestPath = createRequire(import.meta.url).resolve('@memegraph/gallery/persisted-query-manifest.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { operations: { id: string; name: string }[] };
    const me = manifest.operations.find((operation) => operation.name === 'Me')!;
    const router = await stack.addRouter({
      TRUSTED_DOCUMENTS_MANIFEST: manifestPath,
      TRUSTED_DOCUMENTS_MODE: 'enforce',
    });
    const response = await batch([{ extensions: { persistedQuery: { version: 1, sha256Hash: me.id } } }, good], router);
    expect(response.status).toBe(200);
    const answers = (await response.json()) as Answers;
    expect(codes(answers)).toEqual(['data', 'PERSISTED_QUERY_NOT_IN_LIST']);
    expect(answers[0]!.data).toMatchObject({ me: { handle: 'batch_member' } });
  });
});
