import type { IncomingMessage, ServerResponse } from 'node:http';
import { InMemoryLRUCache } from '@apollo/utils.keyvaluecache';
import { DEFAULT_TIERS, ErrorCode, HttpError, type Logger, type Viewer } from '@memegraph/service-kit';
import { describe, expect, it } from 'vitest';
import { OperationLimits } from '../limits/operationLimits';
import type { RequestLimitCheck, RequestLimits } from '../limits/requestLimits';
import { createRouterMetrics } from '../metrics';
import { TrustedDocuments } from '../persisted/trustedDocuments';
import { RequestFingerprints } from './cachedAnswer';
import { createOperationLimits } from './operationLimits';
import { createPersistedDocuments } from './persistedDocuments';
import { createRequestLimits } from './requestLimits';
import { RequestState } from './state';

const viewer: Viewer = { kind: 'anonymous', tier: 'anonymous', scopes: [], clientIp: '127.0.0.1' };
const log = { warn: () => undefined, info: () => undefined } as unknown as Logger;
const deep = `{ ${'meme(id: "1") { author { memes { edges { node { '.repeat(3)}id${' } } } } }'.repeat(3)} }`;

function requestState(body: unknown, headers: Record<string, string> = {}) {
  const req = { method: 'POST', headers, url: '/graphql' } as unknown as IncomingMessage;
  const state = new RequestState(req, {} as ServerResponse, { requestId: 'req-1' });
  state.viewer = viewer;
  state.who = { id: 'anonymous', tier: 'anonymous' };
  state.limits = DEFAULT_TIERS.anonymous;
  state.viewerKey = 'ip:127.0.0.1';
  state.body = body;
  state.operations = Array.isArray(body) ? body.length : 1;
  return state;
}

const documents = createPersistedDocuments({
  trusted: new TrustedDocuments(undefined, 'off', {}, log),
  apqCache: new InMemoryLRUCache<string>(),
});
const limits = createOperationLimits({ operationLimits: new OperationLimits(DEFAULT_TIERS.enterprise.maxTokens) });

describe('persisted documents and operation limits', () => {
  it('a single operation: its text and parts as Apollo reads them; over a limit, refused and no longer known', async () => {
    const state = requestState({ query: '{ plans { tier } }', variables: { a: 1 } });
    await documents.run(state);
    await limits.run(state);
    expect(state.refused).toBeUndefined();
    expect(state.sent).toEqual({ text: '{ plans { tier } }', operationName: undefined, variables: { a: 1 } });

    const over = requestState({ query: deep });
    await documents.run(over);
    await limits.run(over);
    expect(over.refused?.code).toBe(ErrorCode.MAX_DEPTH_EXCEEDED);
    expect(over.sent).toBeUndefined();
  });

  it('a batch: each operation on its own, a refused one answered by its index', async () => {
    const state = requestState([{ query: '{ plans { tier } }' }, { query: deep }, { query: 7 }]);
    await documents.run(state);
    await limits.run(state);
    expect(state.refused).toBeUndefined();
    expect([...state.refusals].map(([index, error]) => [index, error.code])).toEqual([
      [2, ErrorCode.BAD_REQUEST],
      [1, ErrorCode.MAX_DEPTH_EXCEEDED],
    ]);
    expect(state.sent).toBeUndefined();
  });
});

describe('APQ hashes', () => {
  const hashOnly = (hash: string) => ({ extensions: { persistedQuery: { version: 1, sha256Hash: hash } } });
  const HASH = 'a'.repeat(64);

  it('a hash the store does not hold is answered here, as Apollo answers it, never left for Apollo to read again', async () => {
    // A store that gets the text right after the router looked (another request registering it): Apollo,
    // reading it again, would run a text the operation limits never saw.
    const store = new InMemoryLRUCache<string>();
    const racing = createPersistedDocuments({
      trusted: new TrustedDocuments(undefined, 'off', {}, log),
      apqCache: {
        get: async (key) => {
          const found = await store.get(key);
          await store.set(`apq:${HASH}`, deep);
          return found;
        },
        set: (key, value) => store.set(key, value),
        delete: (key) => store.delete(key),
      },
    });
    const state = requestState(hashOnly(HASH));
    await racing.run(state);
    await limits.run(state);
    expect(state.refused).toMatchObject({
      status: 200,
      code: ErrorCode.PERSISTED_QUERY_NOT_FOUND,
      message: 'PersistedQueryNotFound',
    });
    // Known now: its text goes through the operation limits.
    const again = requestState(hashOnly(HASH));
    await racing.run(again);
    await limits.run(again);
    expect(again.refused?.code).toBe(ErrorCode.MAX_DEPTH_EXCEEDED);
    // In a batch, the unknown hash is answered in its place; the rest runs.
    const batch = requestState([{ query: '{ plans { tier } }' }, hashOnly('b'.repeat(64))]);
    await racing.run(batch);
    await limits.run(batch);
    expect([...batch.refusals].map(([index, error]) => [index, error.code])).toEqual([
      [1, ErrorCode.PERSISTED_QUERY_NOT_FOUND],
    ]);
  });
});

describe('request limits', () => {
  const fingerprints = new RequestFingerprints();
  const stage = (answer: Awaited<ReturnType<RequestLimits>>, asked: RequestLimitCheck[]) =>
    createRequestLimits({
      limits: async (check) => {
        asked.push(check);
        return answer;
      },
      fingerprints,
      headers: { 'access-control-allow-origin': '*' },
      metrics: createRouterMetrics(),
    });
  const window = { count: 3, resetAt: Date.now() + 30_000, allowed: true };

  it('asks the bucket about a known operation’s estimate with the window and quota, and sets the rate headers', async () => {
    const state = requestState({ query: '{ plans { tier } }' });
    await documents.run(state);
    const known = { documentKey: 'd', operationName: null, policy: { maxAge: 30, scope: 'PUBLIC' as const }, cost: 4 };
    fingerprints.remember(RequestFingerprints.of(state.sent!, viewer), known);
    const asked: RequestLimitCheck[] = [];
    const bucket = { allowed: true, available: 990, retryAfterMs: 0 };
    await stage({ window, today: { count: 5, allowed: true }, bucket }, asked).run(state);
    expect(asked[0]).toMatchObject({ operations: 1, bucket: { points: 4 } });
    expect(state.cachedOperation).toEqual(known);
    expect(state.held).toEqual(bucket);
    expect(state.headers).toMatchObject({
      'access-control-allow-origin': '*',
      'x-ratelimit-limit': '100',
      'x-ratelimit-remaining': '97',
      'x-request-id': 'req-1',
    });
  });

  it('answers a refusal kept by the earlier stages only after counting it, with the rate headers', async () => {
    const state = requestState({ query: '{ plans { tier } }' });
    state.refused = new HttpError(400, ErrorCode.MAX_DEPTH_EXCEEDED, 'Too deep');
    const asked: RequestLimitCheck[] = [];
    const refused = stage({ window, today: { count: 5, allowed: true } }, asked).run(state);
    await expect(refused).rejects.toMatchObject({
      code: ErrorCode.MAX_DEPTH_EXCEEDED,
      headers: expect.objectContaining({ 'x-ratelimit-remaining': '97' }),
    });
    expect(asked).toHaveLength(1);
    expect(state.report.rejection).toBe(ErrorCode.MAX_DEPTH_EXCEEDED);
  });
});
