import { OperationTypeNode } from 'graphql';
import type { CachePolicy } from './policy';

/**
 * What browsers and CDNs may do with a GraphQL answer, decided in this one
 * place for misses, response-cache hits, mutations and refusals alike:
 *
 * - every answer varies by the credentials a request can carry, by Accept,
 *   which picks its content type, and by the client's name, which can hold a
 *   client to its trusted documents;
 * - `public` only for a query sent without credentials, whose every field is
 *   PUBLIC, with no error: the answer is the same for every client that can
 *   send that request; it carries its entity tags as surrogate keys, so a
 *   CDN can be purged of it;
 * - `private` for the same query sent with credentials: that browser may
 *   reuse it, nobody else;
 * - `no-store` for the viewer's own account data (a PRIVATE hint), every
 *   mutation, anything with errors or partial data, refusals, and answers
 *   nothing may keep (max-age 0);
 * - a mutation that changes who the viewer is or what they may see also
 *   clears the browser's cache for the site (`Clear-Site-Data: "cache"`):
 *   the private answers it holds were given to the viewer as they were.
 */

/** Request headers that carry credentials: the same URL answers differently for each value. */
export const CREDENTIAL_HEADERS = ['authorization', 'x-api-key'] as const;

/**
 * Vary, in the spelling sent: Accept picks between application/json and
 * application/graphql-response+json; `apollographql-client-name` can make
 * the trusted documents stricter for that client
 * (TRUSTED_DOCUMENTS_MODE_BY_CLIENT), so a text one client may send is
 * refused to another.
 */
const VARY = ['Accept', 'Authorization', 'X-API-Key', 'apollographql-client-name'];

/**
 * Mutations that end or change a session: with the configured entitlement
 * mutations, they change what this browser's cached private answers would show.
 */
export const IDENTITY_MUTATIONS: ReadonlySet<string> = new Set(['logOut', 'logOutEverywhere', 'changePassword']);

/**
 * Fastly reads `Surrogate-Key` up to 16 KB and Cloudflare `Cache-Tag` up to
 * 16 KB, each tag up to 1,024 bytes; both headers together must also stay well
 * inside the 16 KB of headers Node's and most clients' parsers accept.
 */
const MAX_TAGS_BYTES = 4_096;
const MAX_TAG_BYTES = 1_024;
/** Printable ASCII but space and comma, the separators of the two headers. */
const TAG = /^[\x21-\x2b\x2d-\x7e]+$/;

export interface HttpCacheFacts {
  /** The request carried Authorization or X-API-Key. */
  credentialed: boolean;
  operation: OperationTypeNode;
  /** The operation's policy from its `@cacheControl` hints. */
  policy: CachePolicy;
  /** Seconds the answer stays fresh from now: the policy's maxAge, less its age on a hit; 0 when the router would not keep it. */
  maxAgeLeft: number;
  /**
   * Seconds the answer had been stored (a hit), sent as `Age`. A cache
   * takes the Age from `max-age` itself (RFC 9111 §4.2.3), so `max-age` is
   * the time left plus the Age: the time left alone would count the age
   * twice, and shared caches and browsers drop the answer that much early.
   */
  age?: number;
  /** The entity tags the answer holds (`Meme:42`, `Meme:list`). */
  tags: readonly string[];
  /** Errors or partial data, or a refusal. */
  failed: boolean;
  /** A mutation that changes the viewer's entitlement or identity. */
  changesViewer: boolean;
  /** Seconds past maxAge the router serves an answer while refreshing it: said to shared caches of public answers. */
  staleWhileRevalidate?: number;
}

export type Freshness = { scope: 'public' | 'private'; maxAge: number; staleWhileRevalidate?: number } | 'no-store';

/** How long, and by whom, an answer may be kept. */
export function freshnessOf(facts: HttpCacheFacts): Freshness {
  if (facts.operation !== OperationTypeNode.QUERY || facts.failed || facts.policy.scope === 'PRIVATE')
    return 'no-store';
  const maxAge = Math.floor(Math.min(facts.maxAgeLeft, facts.policy.maxAge));
  if (!(maxAge > 0)) return 'no-store';
  if (facts.credentialed) return { scope: 'private', maxAge };
  const swr = Math.floor(facts.staleWhileRevalidate ?? 0);
  return swr > 0 ? { scope: 'public', maxAge, staleWhileRevalidate: swr } : { scope: 'public', maxAge };
}

/** The headers to send with an answer, as a header map holds them (lower-case names). */
export function httpCacheHeaders(facts: HttpCacheFacts): Record<string, string> {
  return headersFor(freshnessOf(facts), facts.tags, facts.changesViewer, facts.age);
}

interface SurrogateKeys {
  surrogateKey: string;
  cacheTag: string;
}

/** By tag list: a cached answer's hits pass the same list (an entry's), so its keys are made once. */
const surrogateKeysByTags = new WeakMap<readonly string[], SurrogateKeys | null | undefined>();

/**
 * An answer's tags as the two headers (each tag once, sorted); undefined
 * for no tags; null when a CDN could not be purged by them (a tag too
 * long or with a separator in it, or too many).
 */
function surrogateKeysOf(tags: readonly string[]): SurrogateKeys | null | undefined {
  if (surrogateKeysByTags.has(tags)) return surrogateKeysByTags.get(tags);
  const unique = [...new Set(tags)].sort();
  const surrogateKey = unique.join(' ');
  const keys =
    !unique.every((tag) => TAG.test(tag) && tag.length <= MAX_TAG_BYTES) || surrogateKey.length > MAX_TAGS_BYTES
      ? null
      : unique.length > 0
        ? { surrogateKey, cacheTag: unique.join(',') }
        : undefined;
  surrogateKeysByTags.set(tags, keys);
  return keys;
}

/** `freshness` in time left from now; `age`, when the answer has one, is sent as Age and added to max-age. */
function headersFor(
  freshness: Freshness,
  tags: readonly string[],
  clearSiteData: boolean,
  age: number | undefined,
): Record<string, string> {
  const headers: Record<string, string> = { vary: VARY.join(', ') };
  if (age !== undefined) headers.age = String(age);
  let kept = freshness;
  if (kept !== 'no-store' && kept.scope === 'public') {
    const keys = surrogateKeysOf(tags);
    // A CDN that could not be purged of the answer would serve it after the data changed: browsers only.
    if (keys === null) kept = { scope: 'private', maxAge: kept.maxAge };
    else if (keys !== undefined) {
      headers['surrogate-key'] = keys.surrogateKey;
      headers['cache-tag'] = keys.cacheTag;
    }
  }
  headers['cache-control'] =
    kept === 'no-store'
      ? 'no-store'
      : `${kept.scope}, max-age=${kept.maxAge + (age ?? 0)}${kept.scope === 'public' && kept.staleWhileRevalidate ? `, stale-while-revalidate=${kept.staleWhileRevalidate}` : ''}`;
  if (clearSiteData) headers['clear-site-data'] = '"cache"';
  return headers;
}

/** An Age header's seconds, or undefined. */
function ageIn(header: string | undefined): number | undefined {
  return header !== undefined && /^\d+$/.test(header) ? Number(header) : undefined;
}

/** What headersFor wrote as max-age over an Age, as time left. */
function lessAge(freshness: Freshness, age: number): Freshness {
  if (freshness === 'no-store' || age === 0) return freshness;
  return freshness.maxAge > age ? { ...freshness, maxAge: freshness.maxAge - age } : 'no-store';
}

/** What a header map already says, as written by headersFor; anything else is kept from no one. */
function freshnessIn(cacheControl: string): Freshness {
  const match = /^(public|private), max-age=(\d+)(?:, stale-while-revalidate=(\d+))?$/.exec(cacheControl);
  if (!match) return 'no-store';
  const freshness = { scope: match[1] as 'public' | 'private', maxAge: Number(match[2]) };
  return match[3] ? { ...freshness, staleWhileRevalidate: Number(match[3]) } : freshness;
}

/** The stricter of two: a batch answer is kept only as its least keepable operation allows. */
export function stricter(a: Freshness, b: Freshness): Freshness {
  if (a === 'no-store' || b === 'no-store') return 'no-store';
  const kept = {
    scope: a.scope === 'private' || b.scope === 'private' ? ('private' as const) : ('public' as const),
    maxAge: Math.min(a.maxAge, b.maxAge),
  };
  // Served stale only as long as both answers may be.
  const swr = Math.min(a.staleWhileRevalidate ?? 0, b.staleWhileRevalidate ?? 0);
  return kept.scope === 'public' && swr > 0 ? { ...kept, staleWhileRevalidate: swr } : kept;
}

/** A header map: Apollo's (undefined when absent) or the Fetch API's (null). */
export interface HeaderWriter {
  get(name: string): string | null | undefined;
  set(name: string, value: string): unknown;
  delete(name: string): unknown;
}

/**
 * Writes an operation's caching headers into the response's header map,
 * combined with what the other operations of a batch wrote there already
 * (Apollo gives a batch one head): the stricter freshness (in time left),
 * the tags of all, Clear-Site-Data when any asks for it, and the Age of the
 * oldest answer, with max-age the time left plus that Age.
 */
export function applyHttpCacheHeaders(headers: HeaderWriter, facts: HttpCacheFacts): void {
  const existing = headers.get('cache-control') ?? undefined;
  const existingAge = ageIn(headers.get('age') ?? undefined);
  const freshness =
    existing === undefined
      ? freshnessOf(facts)
      : stricter(lessAge(freshnessIn(existing), existingAge ?? 0), freshnessOf(facts));
  const age = existingAge === undefined ? facts.age : Math.max(existingAge, facts.age ?? 0);
  const written = headers.get('surrogate-key');
  const tags = written ? [...written.split(' ').filter(Boolean), ...facts.tags] : facts.tags;
  const next = headersFor(freshness, tags, facts.changesViewer || !!headers.get('clear-site-data'), age);
  for (const name of ['surrogate-key', 'cache-tag', 'clear-site-data']) if (!(name in next)) headers.delete(name);
  for (const [name, value] of Object.entries(next))
    headers.set(name, name === 'vary' ? mergeVary(headers.get('vary') ?? undefined, value) : value);
}

/** Vary as a set of names: ours added to any already there. */
export function mergeVary(existing: string | undefined, added: string): string {
  const names = new Map<string, string>();
  for (const name of `${existing ?? ''},${added}`.split(',')) {
    const trimmed = name.trim();
    if (trimmed && !names.has(trimmed.toLowerCase())) names.set(trimmed.toLowerCase(), trimmed);
  }
  return [...names.values()].join(', ');
}

/** Whether a request carried credentials, whatever their value: a shared cache sees the header, not whether it was valid. */
export function hasCredentials(headers: Pick<HeaderWriter, 'get'> | undefined): boolean {
  return CREDENTIAL_HEADERS.some((name) => (headers?.get(name) ?? undefined) !== undefined);
}

/** Whether a mutation's root fields change the viewer's entitlement or identity. */
export function changesViewer(mutationFields: readonly string[], entitlementMutations: ReadonlySet<string>): boolean {
  return mutationFields.some((name) => entitlementMutations.has(name) || IDENTITY_MUTATIONS.has(name));
}

/**
 * The head of what the router answers outside GraphQL that no cache may
 * keep: probes (/health, /ready), the schema, a 404, an image the images service sent
 * without a Cache-Control of its own. A 200 or a 404 that says nothing of its
 * freshness is kept by a CDN's heuristics (RFC 9111 §4.2.2; Fastly keeps it
 * an hour): a probe answered by the CDN, a page or image that appears later
 * still missing.
 */
export const NOT_KEPT_HEADERS: Readonly<Record<string, string>> = { 'cache-control': 'no-store' };

/** The headers for an answer the router refused before any GraphQL work (401, 429, 400, …). */
export const REFUSAL_HEADERS: Readonly<Record<string, string>> = headersFor('no-store', [], false, undefined);
