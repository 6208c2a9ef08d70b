import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * How a key answers:
 * - `ok`: a meme, after `latencyMs`;
 * - `fail`: 500;
 * - `throttle`: 429 rate limit with `Retry-After`;
 * - `quota`: 429 "exceeded your current quota", no `Retry-After`;
 * - `slow`: a meme after `slowMs` (longer than any sensible attempt timeout);
 * - `garbage`: 200 whose model text is not JSON;
 * - `reject`: 401, as for a revoked key.
 */
export type FakeKeyMode = 'ok' | 'fail' | 'throttle' | 'quota' | 'slow' | 'garbage' | 'reject';

export interface FakeProviderOptions {
  /** How many valid keys to make (default 17), or the keys themselves. */
  keys?: number | string[];
  /** Delay of a good answer. Default 2 ms. */
  latencyMs?: number;
  /** Delay of a `slow` key's answer. Default 10,000 ms (the request is dropped when the client gives up). */
  slowMs?: number;
  /** `Retry-After` of a `throttle` answer, in seconds. Default 1. */
  retryAfterSeconds?: number;
  /** When set, a key with more requests in flight than this answers 429 (rate), like a real per-key concurrency limit. */
  perKeyConcurrency?: number;
}

export interface FakeProvider {
  /** Base URL for both APIs: `{url}/v1/chat/completions` and `{url}/v1beta/models/{model}:generateContent`. */
  url: string;
  keys: string[];
  setKey(key: string, mode: FakeKeyMode): void;
  /** Every key back to `ok`. */
  heal(): void;
  /** Requests that reached the fake with this key (whatever the answer). */
  calls(key: string): number;
  totalCalls(): number;
  /** Requests with this key being answered right now. */
  inFlight(key: string): number;
  close(): Promise<void>;
}

interface Material {
  prompt: string;
  template: string;
  examples: { topText: string; bottomText: string }[];
}

/** The meme a fake model makes: a pure function of the request, so tests can predict it. */
export function fakeMeme(material: Material) {
  const words = material.prompt.toLowerCase().match(/[a-z0-9]+/g) ?? [];
  return {
    title: `${material.template}: ${material.prompt}`,
    topText: material.prompt,
    bottomText: material.examples[0]?.bottomText || 'said the fake model',
    tags: ['fake', ...words.filter((w) => w.length > 3).slice(0, 3)],
  };
}

function readMaterial(text: string | undefined): Material {
  try {
    const value: unknown = JSON.parse(text ?? '');
    if (typeof value === 'object' && value !== null) {
      const m = value as Partial<Material>;
      return {
        prompt: String(m.prompt ?? ''),
        template: String(m.template ?? 'Meme'),
        examples: Array.isArray(m.examples) ? m.examples : [],
      };
    }
  } catch {
    // A user message that is not our JSON: treat it all as the prompt.
  }
  return { prompt: text ?? '', template: 'Meme', examples: [] };
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return null;
  }
}

/** A real HTTP server speaking the OpenAI-compatible and Gemini-style APIs, on port 0. */
export async function startFakeProvider(options: FakeProviderOptions = {}): Promise<FakeProvider> {
  const keys =
    typeof options.keys === 'object'
      ? [...options.keys]
      : Array.from(
          { length: options.keys ?? 17 },
          (_, i) => `sk-fake-${String(i).padStart(2, '0')}-${Math.random().toString(36).slice(2, 12)}`,
        );
  const latencyMs = options.latencyMs ?? 2;
  const slowMs = options.slowMs ?? 10_000;
  const modes = new Map<string, FakeKeyMode>(keys.map((k) => [k, 'ok']));
  const calls = new Map<string, number>();
  const inFlight = new Map<string, number>();

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    if (res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  /** Waits, unless the client hangs up first (a timed-out attempt), in which case it answers nothing. */
  const wait = (req: IncomingMessage, res: ServerResponse, ms: number) =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(true), ms);
      res.once('close', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const gemini = /^\/v1beta\/models\/([^/:]+):generateContent$/.exec(url.pathname);
    const openai = url.pathname === '/v1/chat/completions';
    if (req.method !== 'POST' || (!gemini && !openai)) return send(res, 404, { error: { message: 'Not found' } });

    const key = gemini
      ? ((req.headers['x-goog-api-key'] as string | undefined) ?? url.searchParams.get('key') ?? '')
      : (req.headers.authorization ?? '').replace(/^Bearer /, '');
    const body = await readBody(req);
    const mode = modes.get(key);
    if (mode === undefined) {
      // Real APIs quote the key they refuse (OpenAI does, partly masked): the client must redact it.
      return send(res, 401, { error: { message: `Incorrect API key provided: ${key}`, code: 'invalid_api_key' } });
    }
    calls.set(key, (calls.get(key) ?? 0) + 1);
    inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
    try {
      if (options.perKeyConcurrency !== undefined && (inFlight.get(key) ?? 0) > options.perKeyConcurrency) {
        return send(
          res,
          429,
          { error: { message: 'Rate limit reached for requests (concurrency)', code: 'rate_limit_exceeded' } },
          { 'retry-after': '0' },
        );
      }
      switch (mode) {
        case 'fail':
          return send(res, gemini ? 503 : 500, {
            error: {
              message: gemini ? 'The model is overloaded.' : 'The server had an error while processing your request.',
            },
          });
        case 'throttle':
          return send(
            res,
            429,
            { error: { message: 'Rate limit reached for requests', code: 'rate_limit_exceeded' } },
            { 'retry-after': String(options.retryAfterSeconds ?? 1) },
          );
        case 'quota':
          return send(
            res,
            429,
            gemini
              ? {
                  error: {
                    code: 429,
                    message: 'Resource has been exhausted (e.g. check quota).',
                    status: 'RESOURCE_EXHAUSTED',
                  },
                }
              : {
                  error: {
                    message: 'You exceeded your current quota, please check your plan and billing details.',
                    code: 'insufficient_quota',
                  },
                },
          );
        case 'reject':
          return send(res, gemini ? 403 : 401, { error: { message: `API key not valid: ${key}` } });
        default:
          break;
      }
      if (!(await wait(req, res, mode === 'slow' ? slowMs : latencyMs))) return;

      const request = (body ?? {}) as {
        messages?: { role?: string; content?: string }[];
        contents?: { parts?: { text?: string }[] }[];
      };
      const userText = gemini
        ? request.contents?.[0]?.parts?.[0]?.text
        : request.messages?.filter((m) => m.role === 'user').at(-1)?.content;
      const content =
        mode === 'garbage'
          ? `Sure! Here is a meme about it, key ${key}`
          : JSON.stringify(fakeMeme(readMaterial(userText)));
      if (gemini) {
        return send(res, 200, {
          candidates: [{ content: { role: 'model', parts: [{ text: content }] }, finishReason: 'STOP' }],
        });
      }
      return send(res, 200, {
        id: `chatcmpl-${calls.get(key)}`,
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
      });
    } finally {
      inFlight.set(key, (inFlight.get(key) ?? 1) - 1);
    }
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    keys,
    setKey(key, mode) {
      if (!modes.has(key)) throw new Error('Unknown fake key');
      modes.set(key, mode);
    },
    heal() {
      for (const key of keys) modes.set(key, 'ok');
    },
    calls: (key) => calls.get(key) ?? 0,
    totalCalls: () => [...calls.values()].reduce((a, b) => a + b, 0),
    inFlight: (key) => inFlight.get(key) ?? 0,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
