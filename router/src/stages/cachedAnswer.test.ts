import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULT_TIERS, type Viewer } from '@memegraph/service-kit';
import { describe, expect, it } from 'vitest';
import { ResponseCache } from '../cache/store';
import { createRouterMetrics } from '../metrics';
import { openSharedState } from '../state/shared';
import type { UsageMeter } from '../usage/meter';
import { createCachedAnswer } from './cachedAnswer';
import { RequestState } from './state';

const START = Date.UTC(2026, 11, 7, 12, 0, 0);
const DATA = '{"trending":[{"id":"1","title":"A"}]}';

/** A router's cached-answer stage over an in-memory response cache, with a clock the test moves. */
async function setUp(viewer: Viewer = { kind: 'anonymous', tier: 'anonymous', scopes: [], clientIp: '127.0.0.1' }) {
  let clock = START;
  const now = () => clock;
  const responseCache = new ResponseCache(openSharedState(undefined, 'test:'), {
    localTtlMs: 60_000,
    staleIfErrorSeconds: 0,
    now,
  });
  await responseCache.set('key', { data: DATA, storedAt: START, maxAge: 30, tags: ['Meme:1', 'Meme:list'] });
  const metered: [string, number][] = [];
  const usage = { record: async (id: string, cost: number) => void metered.push([id, cost]) } as unknown as UsageMeter;
  const stage = createCachedAnswer({ responseCache, usage, metrics: createRouterMetrics(), now });

  const request = (headers: Record<string, string> = {}, method = 'POST') => {
    const written: { status?: number; head?: string[]; body?: string } = {};
    const chunks: Buffer[] = [];
    const res = {
      writeHead: (status: number, head: string[]) => Object.assign(written, { status, head }),
      cork: () => undefined,
      uncork: () => undefined,
      write: (chunk: Buffer | string) => void chunks.push(Buffer.from(chunk)),
      end: (chunk: Buffer | string) => {
        chunks.push(Buffer.from(chunk));
        written.body = Buffer.concat(chunks).toString('utf8');
      },
    } as unknown as ServerResponse;
    const req = { method, headers, url: '/graphql' } as unknown as IncomingMessage;
    const state = new RequestState(req, res, { requestId: 'req-1' });
    state.viewer = viewer;
    state.limits = DEFAULT_TIERS[viewer.tier];
    state.viewerKey = 'ip:127.0.0.1';
    state.sent = { text: '{ trending { id title } }', operationName: undefined, variables: undefined };
    state.cachedOperation = {
      documentKey: 'doc',
      operationName: null,
      policy: { maxAge: 30, scope: 'PUBLIC' },
      cost: 12,
      sharedKey: 'key',
    };
    state.held = { allowed: true, available: 987.6, retryAfterMs: 0 };
    state.headers = { 'x-ratelimit-remaining': '99', 'x-request-id': 'req-1' };
    return { state, written };
  };
  return { stage, request, metered, at: (seconds: number) => (clock = START + seconds * 1000) };
}

const headersOf = (head: string[] = []) => {
  const headers: Record<string, string> = {};
  for (let i = 0; i < head.length; i += 2) headers[head[i]!] = head[i + 1]!;
  return headers;
};

describe('the cached-answer stage', () => {
  it('answers a known operation from the stored bytes, with the head answerHead decides and the cost around them', async () => {
    const { stage, request, at } = await setUp();
    at(12);
    const { state, written } = request();
    await stage.run(state);
    expect(state.answered).toBe(true);
    expect(written.status).toBe(200);
    const body = `{"data":${DATA},"extensions":{"cost":{"requestedQueryCost":12,"actualQueryCost":0,"throttleStatus":{"maximumAvailable":1000,"currentlyAvailable":987,"restoreRate":50}}}}\n`;
    expect(written.body).toBe(body);
    expect(headersOf(written.head)).toEqual({
      'content-type': 'application/json; charset=utf-8',
      'x-cache': 'HIT',
      age: '12',
      vary: 'Accept, Authorization, X-API-Key, apollographql-client-name',
      // 18 s left of 30: a cache takes the Age (12) from max-age itself (RFC 9111 §4.2.3).
      'cache-control': 'public, max-age=30',
      'surrogate-key': 'Meme:1 Meme:list',
      'cache-tag': 'Meme:1,Meme:list',
      'x-ratelimit-remaining': '99',
      'x-request-id': 'req-1',
      'content-length': String(Buffer.byteLength(body)),
    });
    expect(state.report).toMatchObject({ cache: 'HIT', cost: 12 });
  });

  it('the Age and the time left follow the clock; credentials make it private; a signed-in viewer is metered', async () => {
    const viewer: Viewer = { kind: 'user', userId: '7', tier: 'free', scopes: [] };
    const { stage, request, metered, at } = await setUp(viewer);
    at(20);
    const { state, written } = request({ authorization: 'Bearer x', accept: 'application/graphql-response+json' });
    await stage.run(state);
    const headers = headersOf(written.head);
    expect(headers).toMatchObject({
      'content-type': 'application/graphql-response+json; charset=utf-8',
      age: '20',
      // 10 s left: max-age less the Age.
      'cache-control': 'private, max-age=30',
    });
    expect(headers['surrogate-key']).toBeUndefined();
    expect(metered).toEqual([['7', 0]]);
  });

  it('writes nothing, and leaves the request to Apollo, for anything it cannot answer as Apollo would', async () => {
    const { stage, request, at } = await setUp();
    const untouched = async (
      setup: (state: RequestState) => void,
      headers?: Record<string, string>,
      method?: string,
    ) => {
      const { state, written } = request(headers, method);
      setup(state);
      await stage.run(state);
      expect(state.answered).toBe(false);
      expect(written).toEqual({});
    };
    // Expired: past its maxAge on the clock.
    at(30);
    await untouched(() => undefined);
    at(1);
    // The bucket cannot cover the estimate: Apollo's path answers THROTTLED.
    await untouched((s) => (s.held = { allowed: false, available: 3, retryAfterMs: 200 }));
    // Not known by its fingerprint.
    await untouched((s) => (s.cachedOperation = undefined));
    // An Accept neither JSON type satisfies, and the subscription-callback flavour.
    await untouched(() => undefined, { accept: 'text/html' });
    await untouched(() => undefined, { accept: 'application/json;callbackSpec=1.0' });
    // A GET Apollo's CSRF prevention would refuse.
    await untouched(() => undefined, {}, 'GET');
  });
});
