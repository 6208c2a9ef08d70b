import { describe, expect, it } from 'vitest';
import { BadOutputError, KeyRejectedError, ProviderUnavailableError, QuotaError } from './errors';
import { GeminiProvider } from './gemini';
import { parseRetryAfter, type Fetch } from './http';
import { OpenAiProvider } from './openai';
import type { GenerationRequest, MemeProvider } from './provider';

// A key that matches none of the well-known key shapes, so only exact redaction can hide it.
const KEY = 'memegraph-test-key-0123456789abcdef';

const request: GenerationRequest = {
  prompt: 'when the tests pass',
  template: { id: '1', name: 'Drake' },
  captions: [{ topText: 'manual testing', bottomText: 'vitest' }],
};

const memeJson = JSON.stringify({
  title: 'Drake: tests',
  topText: 'when the tests pass',
  bottomText: 'vitest',
  tags: ['tests'],
});

interface Seen {
  url: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

/** A `fetch` that records the request and answers with `respond`. */
function fakeFetch(respond: (seen: Seen) => Response | Promise<Response>): { fetch: Fetch; seen: Seen[] } {
  const seen: Seen[] = [];
  return {
    seen,
    fetch: async (input, init) => {
      const entry = {
        url: String(input),
        headers: Object.fromEntries(new Headers(init.headers).entries()),
        body: JSON.parse(String(init.body)) as Record<string, unknown>,
      };
      seen.push(entry);
      return respond(entry);
    },
  };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

const openAiAnswer = (content: unknown) =>
  json(200, { choices: [{ message: { role: 'assistant', content }, finish_reason: 'stop' }] });
const geminiAnswer = (text: string) =>
  json(200, { candidates: [{ content: { parts: [{ text }] }, finishReason: 'STOP' }] });

const openai = (fetch: Fetch) =>
  new OpenAiProvider({ name: 'openai', baseUrl: 'https://llm.example/proxy', model: 'gpt-test', apiKey: KEY, fetch });
const gemini = (fetch: Fetch) =>
  new GeminiProvider({ name: 'gemini', baseUrl: 'https://gen.example', model: 'gemini-test', apiKey: KEY, fetch });

async function failure(provider: MemeProvider, signal?: AbortSignal): Promise<Error> {
  const error = await provider.generate(request, signal).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  return error as Error;
}

/** The key must appear in no message, stack or cause of the error. */
function expectNoKey(error: Error) {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 10; depth++) {
    expect(current.message).not.toContain(KEY);
    expect(current.stack ?? '').not.toContain(KEY);
    expect(JSON.stringify(current)).not.toContain(KEY);
    current = current.cause;
  }
}

describe('OpenAiProvider', () => {
  it('posts a chat completion with the key as a bearer token and reads the JSON meme', async () => {
    const { fetch, seen } = fakeFetch(() => openAiAnswer(memeJson));
    const meme = await openai(fetch).generate(request);
    expect(meme).toEqual({
      title: 'Drake: tests',
      topText: 'when the tests pass',
      bottomText: 'vitest',
      tags: ['tests'],
    });
    const [call] = seen;
    expect(call!.url).toBe('https://llm.example/proxy/v1/chat/completions');
    expect(call!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(call!.body).toMatchObject({ model: 'gpt-test', response_format: { type: 'json_object' } });
    const messages = call!.body.messages as { role: string; content: string }[];
    expect(messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(messages[0]!.content).toMatch(/JSON object/);
    expect(JSON.parse(messages[1]!.content)).toMatchObject({
      prompt: 'when the tests pass',
      template: 'Drake',
      examples: request.captions,
    });
  });

  it('treats a missing message or a refusal as bad output', async () => {
    await expect(openai(fakeFetch(() => json(200, { choices: [] })).fetch).generate(request)).rejects.toBeInstanceOf(
      BadOutputError,
    );
    const refusal = json(200, { choices: [{ message: { content: null, refusal: 'I cannot' } }] });
    await expect(openai(fakeFetch(() => refusal).fetch).generate(request)).rejects.toThrow(/refused/);
    await expect(
      openai(fakeFetch(() => openAiAnswer('not json at all')).fetch).generate(request),
    ).rejects.toBeInstanceOf(BadOutputError);
  });
});

describe('GeminiProvider', () => {
  it('posts generateContent with the key in x-goog-api-key, never in the URL', async () => {
    const { fetch, seen } = fakeFetch(() => geminiAnswer(memeJson));
    const meme = await gemini(fetch).generate(request);
    expect(meme.title).toBe('Drake: tests');
    const [call] = seen;
    expect(call!.url).toBe('https://gen.example/v1beta/models/gemini-test:generateContent');
    expect(call!.url).not.toContain(KEY);
    expect(call!.headers['x-goog-api-key']).toBe(KEY);
    expect(call!.headers.authorization).toBeUndefined();
    expect(call!.body).toMatchObject({ generationConfig: { responseMimeType: 'application/json' } });
    const contents = call!.body.contents as { parts: { text: string }[] }[];
    expect(JSON.parse(contents[0]!.parts[0]!.text)).toMatchObject({ prompt: 'when the tests pass' });
  });

  it('reports a blocked prompt as bad output', async () => {
    const blocked = json(200, { promptFeedback: { blockReason: 'SAFETY' } });
    await expect(gemini(fakeFetch(() => blocked).fetch).generate(request)).rejects.toThrow(/SAFETY/);
  });

  it('reads the retry delay Gemini puts in its body', async () => {
    const body = {
      error: { code: 429, status: 'RESOURCE_EXHAUSTED', message: 'Quota exceeded', details: [{ retryDelay: '13s' }] },
    };
    const error = await failure(gemini(fakeFetch(() => json(429, body)).fetch));
    expect(error).toBeInstanceOf(QuotaError);
    expect(error).toMatchObject({ kind: 'quota', retryAfterMs: 13_000 });
  });
});

describe('upstream failures', () => {
  const cases: { name: string; fetch: Fetch; type: new (...args: never[]) => Error; check?: (e: Error) => void }[] = [
    {
      name: '429 rate limit with Retry-After',
      fetch: fakeFetch(() => json(429, { error: { message: `Rate limit reached for ${KEY}` } }, { 'retry-after': '7' }))
        .fetch,
      type: QuotaError,
      check: (e) => expect(e).toMatchObject({ kind: 'rate', retryAfterMs: 7_000, status: 429 }),
    },
    {
      name: '429 out of quota',
      fetch: fakeFetch(() =>
        json(429, { error: { message: 'You exceeded your current quota', code: 'insufficient_quota' } }),
      ).fetch,
      type: QuotaError,
      check: (e) => expect(e).toMatchObject({ kind: 'quota', retryAfterMs: undefined }),
    },
    {
      name: '403 that says quota',
      fetch: fakeFetch(() => json(403, { error: { message: 'Daily quota exceeded for this key' } })).fetch,
      type: QuotaError,
    },
    {
      name: '401 quoting the key',
      fetch: fakeFetch(() => json(401, { error: { message: `Incorrect API key provided: ${KEY}` } })).fetch,
      type: KeyRejectedError,
      check: (e) => expect(e.message).toContain('Incorrect API key provided: [redacted]'),
    },
    {
      name: '403 forbidden',
      fetch: fakeFetch(() => json(403, { error: { message: 'Permission denied' } })).fetch,
      type: KeyRejectedError,
    },
    {
      name: '500 echoing the request headers',
      fetch: fakeFetch(() => new Response(`upstream exploded; authorization: Bearer ${KEY}`, { status: 500 })).fetch,
      type: ProviderUnavailableError,
      check: (e) => expect(e).toMatchObject({ status: 500, timedOut: false }),
    },
    {
      name: 'a network error whose cause quotes the key',
      fetch: () =>
        Promise.reject(
          new TypeError('fetch failed', { cause: new Error(`connect ECONNREFUSED (x-goog-api-key: ${KEY})`) }),
        ),
      type: ProviderUnavailableError,
      check: (e) => {
        expect(e.message).toMatch(/could not be reached/);
        expect((e.cause as Error).cause).toBeInstanceOf(Error);
      },
    },
    {
      name: 'a 200 whose body is not JSON',
      fetch: fakeFetch(() => new Response(`<html>${KEY}</html>`, { status: 200 })).fetch,
      type: ProviderUnavailableError,
    },
    {
      name: 'model text that is not JSON and quotes the key',
      fetch: fakeFetch(() => openAiAnswer(`Sorry, ${KEY}`)).fetch,
      type: BadOutputError,
    },
  ];

  for (const { name, fetch, type, check } of cases) {
    it(`maps ${name} to ${type.name}, without the key`, async () => {
      const error = await failure(openai(fetch));
      expect(error).toBeInstanceOf(type);
      check?.(error);
      expectNoKey(error);
    });
  }

  it('maps a timed-out call to ProviderUnavailableError with timedOut', async () => {
    const hanging: Fetch = (_input, init) =>
      new Promise((_resolve, reject) =>
        init.signal?.addEventListener('abort', () => reject(init.signal?.reason), { once: true }),
      );
    const error = await failure(gemini(hanging), AbortSignal.timeout(20));
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect(error).toMatchObject({ timedOut: true });
    expectNoKey(error);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds, HTTP dates and Gemini retry delays, capped at 15 minutes', () => {
    expect(parseRetryAfter('3', '')).toBe(3_000);
    expect(parseRetryAfter(new Date(10_000 + 5_000).toUTCString(), '', 10_000)).toBe(5_000);
    expect(parseRetryAfter(null, '{"retryDelay": "1.5s"}')).toBe(1_500);
    expect(parseRetryAfter('86400', '')).toBe(15 * 60_000);
    expect(parseRetryAfter(null, '')).toBeUndefined();
    expect(parseRetryAfter('soon', '')).toBeUndefined();
  });
});
