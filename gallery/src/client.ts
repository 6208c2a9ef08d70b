import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { print } from '@apollo/client/utilities';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { relayStylePagination } from '@apollo/client/utilities';
import { generatePersistedQueryIdsFromManifest } from '@apollo/persisted-query-lists';
import { OperationTypeNode } from 'graphql';
import { createClient as createSseClient, type Client as SseClient } from 'graphql-sse';
import { Observable, tap } from 'rxjs';
import type { PersistedQueryManifest } from './manifest';

export type PersistedQueryMode = 'apq' | 'trusted-documents';

export interface GalleryClientOptions {
  /** The router's GraphQL endpoint, e.g. `http://localhost:4000/graphql`, or `/graphql` in a page the router serves. */
  uri: string;
  /**
   * - `apq`: automatic persisted queries. The client sends the SHA-256 of each
   *   query; on `PERSISTED_QUERY_NOT_FOUND` it sends the query once more with
   *   its text, and the router keeps it (in Redis, for every router).
   * - `trusted-documents`: the client sends only the manifest id of each
   *   operation, as a router enforcing a safelist requires, and never the text.
   */
  mode: PersistedQueryMode;
  /** A session token from `signUp` / `logIn`, sent as `Authorization: Bearer …`. */
  token?: string;
  /** An API key, sent as `x-api-key`. */
  apiKey?: string;
  /** The gallery's `persisted-query-manifest.json`; required in `trusted-documents` mode. */
  manifest?: PersistedQueryManifest;
  /**
   * Sent as `apollographql-client-name` / `-version`: a router can hold each
   * client to its own manifest by this name.
   */
  clientName?: string;
  clientVersion?: string;
  /** The fetch to send requests with; the global one by default. */
  fetch?: typeof fetch;
}

/** The name the gallery web app sends, and the router enforces the gallery's manifest for. */
export const GALLERY_CLIENT_NAME = 'memegraph-gallery';

/** Lower-case hex SHA-256 of a string, with WebCrypto: the same code runs in Node and in browsers. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * The gallery's cache. The cursor connections are one list per field (and
 * tag) whatever the cursor: `fetchMore` with `after` appends the next page
 * to the edges already there, so an infinite scroll reads one growing list.
 * A generation is one entry whatever `waitSeconds` a poll asked with.
 */
function createGalleryCache(): InMemoryCache {
  return new InMemoryCache({
    typePolicies: {
      Query: {
        fields: {
          feed: relayStylePagination(false),
          memes: relayStylePagination(['tag']),
          generation: { keyArgs: ['id'] },
        },
      },
    },
  });
}

/** Queries remembered as revalidated since the last change; past this many, all revalidate once more. */
const MAX_REVALIDATED = 1_000;

/**
 * The browser's HTTP cache keeps a signed-in viewer's answers for their
 * max-age (`Cache-Control: private`) and cannot know what the viewer just
 * changed: a feed fetched before a new meme would come back without it.
 * After a change (a mutation's answer, or one the app reports with
 * `viewerDataChanged`), each query goes to the router once with
 * `cache: 'no-cache'`, which also stores the fresh answer for later reads.
 */
class HttpCacheRevalidation {
  private revision = 0;
  /** Per operation and variables (which make the GET URL): the revision it last went to the router in. */
  private readonly revalidated = new Map<string, number>();

  changed(): void {
    this.revision++;
  }

  link(): ApolloLink {
    return new ApolloLink((operation, forward) => {
      if (operation.operationType === OperationTypeNode.MUTATION)
        return forward(operation).pipe(tap(() => this.changed()));
      if (this.revision === 0) return forward(operation);
      const key = `${operation.operationName ?? ''}\0${JSON.stringify(operation.variables)}`;
      if (this.revalidated.get(key) === this.revision) return forward(operation);
      if (this.revalidated.size >= MAX_REVALIDATED) this.revalidated.clear();
      this.revalidated.set(key, this.revision);
      operation.setContext(({ fetchOptions }) => ({
        fetchOptions: { ...(fetchOptions as RequestInit | undefined), cache: 'no-cache' },
      }));
      return forward(operation);
    });
  }
}

const revalidations = new WeakMap<ApolloClient, HttpCacheRevalidation>();

/**
 * Tells a gallery client that the viewer's data changed outside a mutation's
 * answer (a generation finished): the next read of each query asks the router.
 */
export function viewerDataChanged(client: ApolloClient): void {
  revalidations.get(client)?.changed();
}

/**
 * Subscriptions over Server-Sent Events (graphql-sse, distinct connections:
 * one request per subscription, which HTTP/1 proxies and CDNs pass through),
 * at the router's `/graphql/stream`. A dropped stream is opened again; its
 * first event is the current state, so nothing is missed meanwhile.
 */
export class ServerSentEventsLink extends ApolloLink {
  constructor(private readonly sse: SseClient) {
    super();
  }

  override request(operation: ApolloLink.Operation): Observable<ApolloLink.Result> {
    return new Observable<ApolloLink.Result>((observer) =>
      this.sse.subscribe<ApolloLink.Result['data']>(
        { query: print(operation.query), variables: operation.variables, operationName: operation.operationName },
        {
          next: (result) => observer.next(result as ApolloLink.Result),
          complete: () => observer.complete(),
          error: (error) => observer.error(error instanceof Error ? error : new Error(String(error))),
        },
      ),
    );
  }
}

/** The router's stream endpoint next to its GraphQL endpoint: `/graphql` → `/graphql/stream`. */
export const streamUri = (uri: string) => `${uri.replace(/\/+$/, '')}/stream`;

/** An Apollo Client for the Memegraph router that sends persisted queries, and subscriptions over SSE. */
export function createGalleryClient(options: GalleryClientOptions): ApolloClient {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.apiKey) headers['x-api-key'] = options.apiKey;

  const http = new HttpLink({ uri: options.uri, headers, fetch: options.fetch ?? globalThis.fetch });
  const revalidation = new HttpCacheRevalidation();
  const sse = createSseClient({
    url: streamUri(options.uri),
    headers,
    fetchFn: options.fetch ?? globalThis.fetch,
    // A stream dropped by a draining router is opened again (on another router), after the router's retry.
    retryAttempts: 5,
  });
  const client = new ApolloClient({
    cache: createGalleryCache(),
    link: ApolloLink.split(
      ({ operationType }) => operationType === OperationTypeNode.SUBSCRIPTION,
      new ServerSentEventsLink(sse),
      ApolloLink.from([revalidation.link(), persistedQueryLink(options), http]),
    ),
    ...(options.clientName ? { clientAwareness: { name: options.clientName, version: options.clientVersion } } : {}),
  });
  revalidations.set(client, revalidation);
  return client;
}

function persistedQueryLink(options: GalleryClientOptions): PersistedQueryLink {
  if (options.mode === 'apq') {
    // Hashed queries go by GET so that a CDN (and the router) can cache public
    // answers by URL; the one-time registration with the full text, and every
    // mutation, stays a POST.
    return new PersistedQueryLink({ sha256: sha256Hex, useGETForHashedQueries: true });
  }
  const { manifest } = options;
  if (!manifest)
    throw new Error(
      'createGalleryClient: mode "trusted-documents" needs the persisted query manifest (options.manifest)',
    );
  // Ids are looked up by operation name; an operation missing from the
  // manifest fails in the client rather than sending its text. GET for
  // queries, as in APQ mode: the request is only an id and variables.
  // The link's APQ fallbacks are turned off: on PERSISTED_QUERY_NOT_FOUND it
  // would resend with the text, and on PERSISTED_QUERY_NOT_SUPPORTED send
  // text from then on. A trusted-documents client reports the error instead.
  return new PersistedQueryLink({
    ...generatePersistedQueryIdsFromManifest({ loadManifest: () => manifest }),
    useGETForHashedQueries: true,
    disable: () => false,
    retry: () => false,
  });
}
