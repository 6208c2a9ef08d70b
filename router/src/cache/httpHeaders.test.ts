import { HeaderMap } from '@apollo/server';
import { OperationTypeNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import {
  applyHttpCacheHeaders,
  changesViewer,
  hasCredentials,
  httpCacheHeaders,
  mergeVary,
  type HttpCacheFacts,
} from './httpHeaders';

const query = (over: Partial<HttpCacheFacts> = {}): HttpCacheFacts => ({
  credentialed: false,
  operation: OperationTypeNode.QUERY,
  policy: { maxAge: 60, scope: 'PUBLIC' },
  maxAgeLeft: 60,
  tags: ['Meme:42', 'Meme:list'],
  failed: false,
  changesViewer: false,
  ...over,
});

const VARY = 'Accept, Authorization, X-API-Key, apollographql-client-name';

describe('httpCacheHeaders', () => {
  it('a query without credentials on PUBLIC data is public, with its tags as surrogate keys', () => {
    expect(httpCacheHeaders(query())).toEqual({
      vary: VARY,
      'cache-control': 'public, max-age=60',
      'surrogate-key': 'Meme:42 Meme:list',
      'cache-tag': 'Meme:42,Meme:list',
    });
  });

  it('the same query with credentials is private, without surrogate keys', () => {
    expect(httpCacheHeaders(query({ credentialed: true }))).toEqual({
      vary: VARY,
      'cache-control': 'private, max-age=60',
    });
  });

  it('stale-while-revalidate is said to shared caches of public answers only', () => {
    expect(httpCacheHeaders(query({ staleWhileRevalidate: 120 }))['cache-control']).toBe(
      'public, max-age=60, stale-while-revalidate=120',
    );
    expect(httpCacheHeaders(query({ staleWhileRevalidate: 120, credentialed: true }))['cache-control']).toBe(
      'private, max-age=60',
    );
    expect(httpCacheHeaders(query({ staleWhileRevalidate: 120, tags: ['Meme:has space'] }))['cache-control']).toBe(
      'private, max-age=60',
    );
    expect(httpCacheHeaders(query({ staleWhileRevalidate: 120, maxAgeLeft: 0 }))['cache-control']).toBe('no-store');
  });

  it('a hit says the time it has left', () => {
    expect(httpCacheHeaders(query({ maxAgeLeft: 41.6 }))['cache-control']).toBe('public, max-age=41');
  });

  it('PRIVATE data, mutations, subscriptions, errors and max-age 0 are no-store, whoever asks', () => {
    for (const credentialed of [false, true]) {
      for (const facts of [
        query({ credentialed, policy: { maxAge: 30, scope: 'PRIVATE' } }),
        query({ credentialed, operation: OperationTypeNode.MUTATION }),
        query({ credentialed, operation: OperationTypeNode.SUBSCRIPTION }),
        query({ credentialed, failed: true }),
        query({ credentialed, maxAgeLeft: 0 }),
        query({ credentialed, policy: { maxAge: 0, scope: 'PUBLIC' } }),
        query({ credentialed, maxAgeLeft: 0.5 }),
      ]) {
        expect(httpCacheHeaders(facts)).toEqual({ vary: VARY, 'cache-control': 'no-store' });
      }
    }
  });

  it('a mutation that changes the viewer clears the browser’s cache for the site', () => {
    expect(
      httpCacheHeaders(query({ operation: OperationTypeNode.MUTATION, credentialed: true, changesViewer: true })),
    ).toEqual({
      vary: VARY,
      'cache-control': 'no-store',
      'clear-site-data': '"cache"',
    });
  });

  it('an answer a CDN could not be purged of is kept by the browser only', () => {
    expect(httpCacheHeaders(query({ tags: ['Meme:has space'] }))).toEqual({
      vary: VARY,
      'cache-control': 'private, max-age=60',
    });
    expect(httpCacheHeaders(query({ tags: ['Meme:a,b'] }))['cache-control']).toBe('private, max-age=60');
    const many = Array.from({ length: 1_000 }, (_, i) => `Meme:${i}`);
    expect(httpCacheHeaders(query({ tags: many }))).toEqual({ vary: VARY, 'cache-control': 'private, max-age=60' });
  });

  it('a public answer with no entities has no surrogate keys', () => {
    expect(httpCacheHeaders(query({ tags: [] }))).toEqual({ vary: VARY, 'cache-control': 'public, max-age=60' });
  });
});

describe('applyHttpCacheHeaders: the operations of a batch share one head', () => {
  it('keeps the strictest freshness, the tags of all public answers, and Clear-Site-Data when any asks', () => {
    const headers = new HeaderMap();
    applyHttpCacheHeaders(headers, query({ maxAgeLeft: 60, tags: ['Meme:1'] }));
    applyHttpCacheHeaders(headers, query({ maxAgeLeft: 30, tags: ['Template:2'] }));
    expect(Object.fromEntries(headers)).toEqual({
      vary: VARY,
      'cache-control': 'public, max-age=30',
      'surrogate-key': 'Meme:1 Template:2',
      'cache-tag': 'Meme:1,Template:2',
    });
    applyHttpCacheHeaders(headers, query({ operation: OperationTypeNode.MUTATION, changesViewer: true }));
    expect(Object.fromEntries(headers)).toEqual({
      vary: VARY,
      'cache-control': 'no-store',
      'clear-site-data': '"cache"',
    });
    applyHttpCacheHeaders(headers, query());
    expect(Object.fromEntries(headers)).toEqual({
      vary: VARY,
      'cache-control': 'no-store',
      'clear-site-data': '"cache"',
    });
  });

  it('says a hit’s age once: Age, and max-age the time left plus the Age (RFC 9111 §4.2.3: a cache takes the Age from max-age)', () => {
    // A hit stored 12 s ago of a 60 s answer: 48 s left.
    expect(httpCacheHeaders(query({ maxAgeLeft: 48, age: 12 }))).toMatchObject({
      age: '12',
      'cache-control': 'public, max-age=60',
    });
    // Past its time (a stale answer): kept by no one, its Age still said.
    expect(httpCacheHeaders(query({ maxAgeLeft: 0, age: 70 }))).toMatchObject({
      age: '70',
      'cache-control': 'no-store',
    });
  });

  it('in a batch, sends the Age of its oldest answer and max-age the least time left plus that Age', () => {
    // 10 s left (50 s old) and 58 s left (2 s old), in either order: 10 s left, said as Age 50 and max-age 60.
    for (const [first, second] of [
      [query({ maxAgeLeft: 10, age: 50 }), query({ maxAgeLeft: 58, age: 2 })],
      [query({ maxAgeLeft: 58, age: 2 }), query({ maxAgeLeft: 10, age: 50 })],
    ]) {
      const headers = new HeaderMap();
      applyHttpCacheHeaders(headers, first!);
      applyHttpCacheHeaders(headers, second!);
      expect([headers.get('age'), headers.get('cache-control')]).toEqual(['50', 'public, max-age=60']);
    }
    // A miss (30 s left, no Age) with a hit of 18 s left, 12 s old: 18 s left, said as Age 12 and max-age 30.
    for (const [first, second] of [
      [query({ maxAgeLeft: 30 }), query({ maxAgeLeft: 18, age: 12 })],
      [query({ maxAgeLeft: 18, age: 12 }), query({ maxAgeLeft: 30 })],
    ]) {
      const headers = new HeaderMap();
      applyHttpCacheHeaders(headers, first!);
      applyHttpCacheHeaders(headers, second!);
      expect([headers.get('age'), headers.get('cache-control')]).toEqual(['12', 'public, max-age=30']);
    }
  });

  it('keeps stale-while-revalidate only as long as every public answer of the batch allows', () => {
    const headers = new HeaderMap();
    applyHttpCacheHeaders(headers, query({ staleWhileRevalidate: 120 }));
    applyHttpCacheHeaders(headers, query({ staleWhileRevalidate: 30, maxAgeLeft: 40 }));
    expect(headers.get('cache-control')).toBe('public, max-age=40, stale-while-revalidate=30');
    applyHttpCacheHeaders(headers, query());
    expect(headers.get('cache-control')).toBe('public, max-age=40');
    const mixed = new HeaderMap();
    applyHttpCacheHeaders(mixed, query({ staleWhileRevalidate: 120 }));
    applyHttpCacheHeaders(mixed, query({ staleWhileRevalidate: 120, credentialed: true }));
    expect(mixed.get('cache-control')).toBe('private, max-age=60');
  });

  it('public and private make private; a header it did not write counts as no-store; Vary keeps what was there', () => {
    const headers = new HeaderMap([['vary', 'accept-encoding']]);
    applyHttpCacheHeaders(headers, query());
    applyHttpCacheHeaders(headers, query({ credentialed: true }));
    expect(Object.fromEntries(headers)).toEqual({
      vary: `accept-encoding, ${VARY}`,
      'cache-control': 'private, max-age=60',
    });
    const other = new HeaderMap([['cache-control', 'private, no-cache, must-revalidate']]);
    applyHttpCacheHeaders(other, query());
    expect(other.get('cache-control')).toBe('no-store');
  });
});

describe('helpers', () => {
  it('mergeVary keeps each name once, case-insensitively', () => {
    expect(mergeVary('Accept, authorization', VARY)).toBe(
      'Accept, authorization, X-API-Key, apollographql-client-name',
    );
    expect(mergeVary(undefined, VARY)).toBe(VARY);
  });

  it('credentials are the headers sent, whatever their value', () => {
    expect(hasCredentials(new HeaderMap([['authorization', '']]))).toBe(true);
    expect(hasCredentials(new HeaderMap([['x-api-key', 'k']]))).toBe(true);
    expect(hasCredentials(new HeaderMap([['accept', '*/*']]))).toBe(false);
    expect(hasCredentials(new Headers({ 'X-API-Key': 'k' }))).toBe(true);
    expect(hasCredentials(undefined)).toBe(false);
  });

  it('entitlement mutations as configured, and the session mutations', () => {
    const configured = new Set(['subscribe']);
    expect(changesViewer(['subscribe'], configured)).toBe(true);
    expect(changesViewer(['vote', 'logOut'], configured)).toBe(true);
    expect(changesViewer(['changePassword'], new Set())).toBe(true);
    expect(changesViewer(['vote', 'createMeme'], configured)).toBe(false);
  });
});
