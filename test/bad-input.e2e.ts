import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
