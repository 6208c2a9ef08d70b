import type { IncomingMessage } from 'node:http';
import { OperationTypeNode } from 'graphql';
import { LRUCache } from 'lru-cache';
import { graphqlMediaType, type Viewer } from '@memegraph/service-kit';
import { hasCredentials, httpCacheHeaders } from '../cache/httpHeaders';
import { responseCacheKey, stableJson } from '../cache/key';
import { ageOf, isFresh, type CachedResponse, type ResponseCache } from '../cache/store';
import type { RouterMetrics } from '../metrics';
import type { UsageMeter } from '../usage/meter';
import { answerHead } from './respond';
import type { Stage } from './runner';
import type { CachedOperation, RequestState, SentOperation } from './state';
import { markCache } from '../context';

/** Request fingerprints are kept up to this many UTF-16 units in all (texts and variables included). */
const MAX_FINGERPRINT_BYTES = 8 * 1024 * 1024;

/**
 * Request fingerprints: what a request sent (exact text, operation name,
 * variables) and who may see what (viewer kind, tier and scopes), mapped to
 * the facts of its cacheable operation. A request whose fingerprint is here
 * can be answered from the response cache without Apollo Server; one that is
 * not simply goes through Apollo, and is learnt when its answer is stored.
 * Entries point at the response cache and never hold an answer, so purges,
 * expiry and other routers' writes are seen through the cache as they are.
 */
export class RequestFingerprints {
  private readonly known = new LRUCache<string, CachedOperation>({
    max: 10_000,
    maxSize: MAX_FINGERPRINT_BYTES,
    sizeCalculation: (_, fingerprint) => fingerprint.length + 1,
  });

  /** The fingerprint of one operation sent by `viewer`. */
  static of(sent: SentOperation, viewer: Viewer): string {
    const scopes = viewer.scopes.length > 1 ? [...viewer.scopes].sort().join(' ') : (viewer.scopes[0] ?? '');
    return `${viewer.kind}|${viewer.tier}|${scopes}\0${sent.operationName ?? ''}\0${stableJson(sent.variables ?? {})}\0${sent.text}`;
  }

  get(fingerprint: string): CachedOperation | undefined {
    return this.known.get(fingerprint);
  }

  remember(fingerprint: string, operation: CachedOperation): void {
    if (fingerprint.length < MAX_FINGERPRINT_BYTES / 100) this.known.set(fingerprint, operation);
  }

  /** Forgets everything: a new schema or policy may read the same text differently. */
  clear(): void {
    this.known.clear();
  }
}

/** A number as JSON.stringify writes it (null when not finite). */
const json = (n: number): string => (Number.isFinite(n) ? String(n) : 'null');

const PREFLIGHT_HEADERS = ['x-apollo-operation-name', 'apollo-require-preflight'];

/**
 * Whether Apollo Server would run this GET (its csrfPrevention: a
 * content-type that forces a preflight, here the only one a GET may have,
 * application/json, or a non-empty preflight header), decided conservatively: a request this says no to goes
 * on to Apollo, which answers it as it always did.
 */
function apolloWouldRunGet(req: IncomingMessage): boolean {
  const contentType = req.headers['content-type'];
  if (contentType !== undefined) {
    // Apollo takes only application/json on a GET; any other (or an odd spelling) is Apollo's to refuse.
    return contentType.split(';')[0]!.trim().toLowerCase() === 'application/json';
  }
  return PREFLIGHT_HEADERS.some((name) => {
    const value = req.headers[name];
    return typeof value === 'string' ? value.length > 0 : Array.isArray(value) && value.join(', ').length > 0;
  });
}

/** Accept headers seen, and the type a hit is answered in for each (null: Apollo's to answer); clients send few. */
const answerTypes = new LRUCache<string, { type: string | null }>({ max: 256 });

/** The media type a hit goes out as for this Accept, or null when the request is Apollo's to answer. */
function answerTypeOf(accept: string | undefined): string | null {
  const key = accept ?? '';
  let known = answerTypes.get(key);
  if (!known) {
    // Apollo also offers the subscription-callback flavour of application/json to a client that names it: Apollo's to answer.
    known = { type: accept && /callbackspec/i.test(accept) ? null : graphqlMediaType(accept) };
    answerTypes.set(key, known);
  }
  return known.type;
}

/**
 * The response cache's fast path, a hit answered from stored bytes before
 * Apollo: a request of one operation whose operation is known by its
 * fingerprint, whose estimate the cost bucket covers (the request limits
 * checked it) and whose answer is fresh in the cache is answered from the
 * stored bytes, written around with what changes per request (rate
 * headers, Age, the cost extension), with the head answerHead decides
 * (respond.ts), exactly as the operation stages answer a hit through
 * Apollo. Anything else goes on to Apollo, having written nothing: a hit
 * the cost bucket cannot cover (Apollo's path answers THROTTLED), a GET
 * Apollo would refuse, an Accept it cannot answer.
 */
export function createCachedAnswer(deps: {
  responseCache: ResponseCache;
  usage: UsageMeter;
  metrics: RouterMetrics;
  /** Said in Cache-Control of public answers (STALE_WHILE_REVALIDATE_SECONDS). */
  staleWhileRevalidateSeconds?: number;
  now?: () => number;
}): Stage<RequestState> {
  const now = deps.now ?? Date.now;
  /**
   * The head changes only with the age, the credentials and the media type: worked out once for each, per
   * stored entry, with the body's start (the stored bytes, encoded once), so that a hit measures, encodes
   * and copies only what changes.
   */
  const heads = new WeakMap<
    CachedResponse,
    { credentialed: boolean; age: number; contentType: string; head: string[]; start: Buffer }
  >();

  /** Writes the hit of `entry` when it is fresh; else leaves the request to Apollo, having written nothing. */
  const answer = (
    state: RequestState,
    operation: CachedOperation,
    contentType: string,
    entry: CachedResponse | undefined,
  ): Promise<void> | void => {
    const at = now();
    if (!entry || !isFresh(entry, at)) return;
    const { report, viewer } = state;
    report.operationName = operation.operationName ?? undefined;
    markCache(report, 'HIT');
    report.cost = operation.cost;
    deps.metrics.cost.observe({ tier: viewer.tier }, operation.cost);
    // Nothing ran, so nothing is charged; the request is metered as on Apollo's path.
    if (viewer.kind === 'user') {
      return deps.usage.record(viewer.userId, 0).then(() => write(state, operation, contentType, entry, at));
    }
    write(state, operation, contentType, entry, at);
  };

  const write = (
    state: RequestState,
    operation: CachedOperation,
    contentType: string,
    entry: CachedResponse,
    at: number,
  ): void => {
    const { req, res, limits, held } = state;
    const age = ageOf(entry, at);
    const credentialed = hasCredentials({ get: (name) => req.headers[name] as string | undefined });
    let known = heads.get(entry);
    if (known?.age !== age || known.credentialed !== credentialed || known.contentType !== contentType) {
      const head = answerHead({
        hasData: true,
        mediaType: contentType,
        credentialed,
        operation: OperationTypeNode.QUERY,
        decision: {
          cache: { mark: 'HIT', age },
          keep: {
            maxAgeLeft: operation.policy.maxAge - age,
            tags: entry.tags,
            policy: operation.policy,
            changesViewer: false,
          },
        },
        staleWhileRevalidate: deps.staleWhileRevalidateSeconds,
      });
      const all = { 'content-type': contentType, ...head.headers, ...httpCacheHeaders(head.caching) };
      // The body's start depends on the entry alone: encoded once, whatever the age and credentials.
      const start = known?.start ?? Buffer.from(`{"data":${entry.data},"extensions":{"cost":`);
      known = { credentialed, age, contentType, head: Object.entries(all).flat(), start };
      heads.set(entry, known);
    }
    const head = known.head.slice();
    for (const name in state.headers) head.push(name, state.headers[name]!);
    // The body Apollo would write for { data, extensions: { cost } }, its trailing newline included; the cost
    // extension is JSON numbers only (ASCII), so its length in bytes is its length.
    const cost =
      `{"requestedQueryCost":${json(operation.cost)},"actualQueryCost":0,"throttleStatus":{` +
      `"maximumAvailable":${json(limits.costBucketCapacity)},"currentlyAvailable":${json(Math.floor(held!.available))},` +
      `"restoreRate":${json(limits.costRestorePerSecond)}}}}}\n`;
    head.push('content-length', String(known.start.length + cost.length));
    res.writeHead(200, head);
    // Head, stored bytes and cost go out in one write: the stored bytes as they are, not copied into a new
    // string and encoded again for every hit (70 KB for a page of 100 memes).
    res.cork();
    res.write(known.start);
    res.end(cost);
    res.uncork();
    state.answered = true;
  };

  return {
    name: 'cachedAnswer',
    // A hit this process holds is answered without a promise; one read from Redis, once it is read.
    run(state) {
      const { req, cachedOperation: operation, held, sent } = state;
      if (!sent || !operation || !held?.allowed) return;
      if (req.method === 'GET' && !apolloWouldRunGet(req)) return;
      const contentType = answerTypeOf(req.headers.accept);
      if (!contentType) return;
      const cacheKey =
        operation.sharedKey ??
        responseCacheKey({
          documentKey: operation.documentKey,
          operationName: operation.operationName,
          variables: sent.variables ?? {},
          viewer: state.viewer,
          viewerKey: state.viewerKey,
          policy: operation.policy,
        });
      const local = deps.responseCache.getLocal(cacheKey);
      if (local) return answer(state, operation, contentType, local);
      return deps.responseCache.get(cacheKey).then((entry) => answer(state, operation, contentType, entry));
    },
  };
}
