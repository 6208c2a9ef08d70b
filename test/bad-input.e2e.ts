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
  ms: number;
}

async function send(init: RequestInit & { path?: string }): Promise<Answer> {
  const started = Date.now();
  const response = await fetch(`${stack.routerUrl}${init.path ?? '/graphql'}`, init);
  const text = await response.text();
  let code: string | undefined;
  try {
    code = (JSON.parse(text) as { errors?: { extensions?: { code?: string } }[] }).errors?.[0]?.extensions?.code;
  } catch {
    code = undefined;
  }
  expect(text).not.toMatch(/\bat .+\.(ts|js):\d+/);
  return { status: response.status, code, ms: Date.now() - started };
}

const json = { 'content-type': 'application/json' };

describe('bad input gets a clear coded error, fast, and the router stays healthy', () => {
  it.each<[string, RequestInit, number, string]>([
    ['malformed JSON', { method: 'POST', headers: json, body: '{"query": "{ plans { tier } }"' }, 400, 'BAD_REQUEST'],
    ['an empty body', { method: 'POST', headers: json, body: '' }, 400, 'BAD_REQUEST'],
    ['a text/plain body', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{ plans { tier } }' }, 415, 'BAD_REQUEST'],
    ['a form body', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'query=%7B%7D' }, 415, 'BAD_REQUEST'],
    ['a JSON array that is not a batch of operations', { method: 'POST', headers: json, body: '[1]' }, 400, 'BAD_REQUEST'],
    ['a query that is not a string', { method: 'POST', headers: json, body: '{"query": 42}' }, 400, 'BAD_REQUEST'],
    ['a 5 MB body', { method: 'POST', headers: json, body: JSON.stringify({ query: '{ plans { tier } }', variables: { x: 'y'.repeat(5_000_000) } }) }, 413, 'PAYLOAD_TOO_LARGE'],
    ['a deeply nested query', { method: 'POST', headers: json, body: JSON.stringify({ query: `{ ${'trending { author { memes { edges { node { '.repeat(6)} id ${'} } } } }'.repeat(6)} }` }) }, 400, 'MAX_DEPTH_EXCEEDED'],
    ['an alias bomb', { method: 'POST', headers: json, body: JSON.stringify({ query: `{ ${Array.from({ length: 40 }, (_, i) => `a${i}: plans { tier }`).join(' ')} }` }) }, 400, 'MAX_ALIASES_EXCEEDED'],
    ['a batch past the limit', { method: 'POST', headers: json, body: JSON.stringify([{ query: '{ plans { tier } }' }, { query: '{ plans { tier } }' }]) }, 400, 'BATCH_TOO_LARGE'],
    ['an operationName the document does not hold', { method: 'POST', headers: json, body: JSON.stringify({ query: 'query A { plans { tier } }', operationName: 'B' }) }, 400, 'OPERATION_RESOLUTION_FAILURE'],
    ['two operations and no operationName', { method: 'POST', headers: json, body: JSON.stringify({ query: 'query A { plans { tier } } query B { plans { tier } }' }) }, 400, 'OPERATION_RESOLUTION_FAILURE'],
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
    ['a meme title', 'mutation($t: String!) { createMeme(input: { title: $t, topText: "a", bottomText: "b", templateId: "1" }) { id } }', { t: nul }, true],
    ['a meme caption', 'mutation($t: String!) { createMeme(input: { title: "t", topText: $t, bottomText: "b", templateId: "1" }) { id } }', { t: nul }, true],
    ['a tag', 'mutation($t: String!) { createMeme(input: { title: "t", topText: "a", bottomText: "b", templateId: "1", tags: [$t] }) { id } }', { t: nul }, true],
    ['a tag filter', 'query($t: String!) { memes(tag: $t) { edges { node { id } } } }', { t: nul }, false],
    ['an API key name', 'mutation($n: String!) { createApiKey(name: $n) { secret } }', { n: nul }, true],
    ['a handle at sign-up', 'mutation($h: String!) { signUp(handle: $h, password: "a long test password") { token } }', { h: nul }, false],
    ['a display name', 'mutation($d: String!) { signUp(handle: "nul_display", password: "a long test password", displayName: $d) { token } }', { d: nul }, false],
    ['a handle at log-in', 'mutation($h: String!) { logIn(handle: $h, password: "a long test password") { token } }', { h: nul }, false],
  ];
  it.each(cases)('%s', async (_name, query, variables, signedIn) => {
    const client = signedIn ? premium.client : routerClient(stack.routerUrl);
    const answer = await client(query, variables);
    expect(answer.body.errors?.[0]?.extensions?.code, JSON.stringify(answer.body.errors)).toBe('BAD_USER_INPUT');
    expect(answer.status).toBe(400);
  });
});

const nested = (depth: number, open: string, close: string, leaf: string) => `${open.repeat(depth)}${leaf}${close.repeat(depth)}`;

describe('JSON nested past any real input is refused before any work', () => {
  it.each([
    ['an unused array variable 10,000 deep', nested(10_000, '[', ']', '')],
    ['an unused object variable 10,000 deep', nested(10_000, '{"a":', '}', '1')],
    ['a declared variable 10,000 deep', nested(10_000, '[', ']', '"a"')],
  ])('%s', async (name, value) => {
    const query = name.includes('declared') ? 'query($x: String) { memes(tag: $x) { edges { node { id } } } }' : '{ plans { tier } }';
    const body = `{"query":${JSON.stringify(query)},"variables":{"x":${value}}}`;
    const answer = await send({ method: 'POST', headers: json, body });
    expect(answer.status).toBe(400);
    expect(answer.code).toBe('BAD_REQUEST');
  });

  it('in extensions too, and in a GET', async () => {
    const body = `{"query":"{ plans { tier } }","extensions":{"x":${nested(10_000, '[', ']', '')}}}`;
    expect(await send({ method: 'POST', headers: json, body })).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
    const variables = encodeURIComponent(`{"x":${nested(1_000, '[', ']', '')}}`);
    const get = await send({ path: `/graphql?query=${encodeURIComponent('{ plans { tier } }')}&variables=${variables}` });
    expect(get).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
  });

  it('while input nested as deep as real clients send is served', async () => {
    const answer = await routerClient(stack.routerUrl)('{ plans { tier } }', { x: [[[['a']]]], y: { a: { b: { c: [1, [2]] } } } });
    expect(answer.status).toBe(200);
    expect(answer.body.errors).toBeUndefined();
  });
});

describe('operations the schema has no root type for', () => {
  it('a subscription is a 400 GRAPHQL_VALIDATION_FAILED', async () => {
    const answer = await send({ method: 'POST', headers: json, body: JSON.stringify({ query: 'subscription { plans { tier } }' }) });
    expect(answer).toMatchObject({ status: 400, code: 'GRAPHQL_VALIDATION_FAILED' });
    const named = await send({ method: 'POST', headers: json, body: JSON.stringify({ query: 'subscription S { x } query Q { plans { tier } }', operationName: 'S' }) });
    expect(named).toMatchObject({ status: 400, code: 'GRAPHQL_VALIDATION_FAILED' });
  });
});
