import { OperationTypeNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { httpCacheHeaders } from '../cache/httpHeaders';
import { answerHead, type Answer } from './respond';

const JSON_TYPE = 'application/json';
const GRAPHQL_RESPONSE = 'application/graphql-response+json';
const policy = { maxAge: 30, scope: 'PUBLIC' as const };

const answer = (overrides: Partial<Answer> = {}): Answer => ({
  hasData: true,
  mediaType: GRAPHQL_RESPONSE,
  credentialed: false,
  operation: OperationTypeNode.QUERY,
  ...overrides,
});

describe('answerHead', () => {
  it('a hit: X-Cache and Age, kept for the time it has left, its tags as surrogate keys, status left as it is', () => {
    const head = answerHead(
      answer({
        decision: {
          cache: { mark: 'HIT', age: 12 },
          keep: { maxAgeLeft: 18, tags: ['Meme:1', 'Meme:list'], policy, changesViewer: false },
        },
      }),
    );
    expect(head.status).toBeUndefined();
    expect(head.headers).toEqual({ 'x-cache': 'HIT' });
    expect(httpCacheHeaders(head.caching)).toEqual({
      vary: 'Accept, Authorization, X-API-Key, apollographql-client-name',
      age: '12',
      // 18 s left: a cache takes the Age from max-age itself (RFC 9111 §4.2.3), so it is not taken off twice.
      'cache-control': 'public, max-age=30',
      'surrogate-key': 'Meme:1 Meme:list',
      'cache-tag': 'Meme:1,Meme:list',
    });
  });

  it('the same hit with credentials is private; with errors or without data it is kept by no one', () => {
    const decision = {
      cache: { mark: 'MISS' as const },
      keep: { maxAgeLeft: 30, tags: ['Meme:1'], policy, changesViewer: false },
    };
    expect(httpCacheHeaders(answerHead(answer({ decision, credentialed: true })).caching)['cache-control']).toBe(
      'private, max-age=30',
    );
    const failed = answerHead(answer({ decision, errors: [{ extensions: { code: 'DOWNSTREAM_SERVICE_ERROR' } }] }));
    expect(httpCacheHeaders(failed.caching)['cache-control']).toBe('no-store');
    expect(failed.headers).toEqual({ 'x-cache': 'MISS' });
  });

  it('no data: the status the error-code table gives the first code, for the media type', () => {
    const unauthenticated = { hasData: false, errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] };
    expect(answerHead(answer({ ...unauthenticated, mediaType: GRAPHQL_RESPONSE })).status).toBe(401);
    expect(answerHead(answer({ ...unauthenticated, mediaType: JSON_TYPE })).status).toBe(401);
    // application/json answers a well-formed request's GraphQL errors with 200 where the code's own is 400.
    const badInput = { hasData: false, errors: [{ extensions: { code: 'BAD_USER_INPUT' } }] };
    expect(answerHead(answer({ ...badInput, mediaType: GRAPHQL_RESPONSE })).status).toBe(400);
    expect(answerHead(answer({ ...badInput, mediaType: JSON_TYPE })).status).toBe(200);
    // A code the table does not know leaves the status as it is.
    expect(answerHead(answer({ hasData: false, errors: [{ extensions: { code: 'SOMETHING_ELSE' } }] })).status).toBe(
      undefined,
    );
    // Data, even with errors: the status stays.
    expect(answerHead(answer({ errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] })).status).toBe(undefined);
    // Nothing the stages decided: kept by no one.
    expect(httpCacheHeaders(answerHead(answer()).caching)['cache-control']).toBe('no-store');
  });

  it('Retry-After: from the stages (THROTTLED, every field over its limit), or a 429’s own retryAfter', () => {
    const throttled = answerHead(
      answer({ hasData: false, errors: [{ extensions: { code: 'THROTTLED' } }], decision: { retryAfter: 7 } }),
    );
    expect(throttled.status).toBe(429);
    expect(throttled.headers['retry-after']).toBe('7');
    const everyFieldLimited = answerHead(answer({ decision: { status: 429, retryAfter: 60 } }));
    expect(everyFieldLimited.status).toBe(429);
    expect(everyFieldLimited.headers['retry-after']).toBe('60');
    const logInThrottled = answerHead(
      answer({ hasData: false, errors: [{ extensions: { code: 'RATE_LIMIT_EXCEEDED', retryAfter: 2.5 } }] }),
    );
    expect(logInThrottled.status).toBe(429);
    expect(logInThrottled.headers['retry-after']).toBe('3');
  });

  it('a mutation that changes the viewer clears the browser’s cache and is never kept', () => {
    const head = answerHead(
      answer({
        operation: OperationTypeNode.MUTATION,
        decision: { keep: { maxAgeLeft: 0, tags: [], policy, changesViewer: true } },
      }),
    );
    expect(httpCacheHeaders(head.caching)).toEqual({
      vary: 'Accept, Authorization, X-API-Key, apollographql-client-name',
      'cache-control': 'no-store',
      'clear-site-data': '"cache"',
    });
  });
});
