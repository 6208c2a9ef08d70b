import type { IncomingMessage, ServerResponse } from 'node:http';
import { OperationTypeNode } from 'graphql';
import { LRUCache } from 'lru-cache';
import { graphqlMediaType, type TierLimits, type Viewer } from '@memegraph/service-kit';
import type { RequestReport } from '../context';
import { hasCredentials, httpCacheHeaders } from '../cache/httpHeaders';
import { responseCacheKey, stableJson } from '../cache/key';
import type { CachePolicy } from '../cache/policy';
import { ageOf, isFresh, type CachedResponse, type ResponseCache } from '../cache/store';
import type { BucketState } from '../cost/bucket';
import type { RouterMetrics } from '../metrics';
import type { UsageMeter } from '../usage/meter';

/**
 * What answering a request from the response cache needs to know about its
 * operation, learnt when the pipeline (through Apollo) stored or found its
 * answer: everything the pipeline would work out again from the parsed
 * document, for this text, operation name, variables and viewer partition.
 */
export interface CachedOperation {
  /** The document's canonical digest and the operation's name, as the response cache key takes them. */
  documentKey: string;
  operationName: string | null;
  policy: CachePolicy;
  /** The estimated cost a hit is checked against (and reported as requested). */
  cost: number;
  /** The response cache key, when it is the same for every viewer of the partition (not PRIVATE). */
  sharedKey?: string;
}

/** The operation of a request as sent, before anything parses it. */
export interface SentOperation {
  /** The document text: as sent, from a trusted document id, or from the APQ store for a hash sent alone. */
  text: string;
  operationName: string | undefined;
  variables: Record<string, unknown> | undefined;
}

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

export interface CachedAnswerOptions {
  responseCache: ResponseCache;
  usage: UsageMeter;
  metrics: RouterMetrics;
  /** Said in Cache-Control of public answers (STALE_WHILE_REVALIDATE_SECONDS). */
  staleWhileRevalidateSeconds?: number;
}

export interface CachedAnswerRequest {
  /** The request's operation, known by its fingerprint. */
  operation: CachedOperation;
  /** The cost bucket checked for the operation's estimate, with the request's other limits (limits/requestLimits.ts). */
  held: BucketState;
  viewer: Viewer;
  viewerKey: string;
  limits: TierLimits;
  variables: Record<string, unknown> | undefined;
  report: RequestReport;
  /** Headers every answer carries (CORS, rate headers, request id). */
  headers: Record<string, string>;
}

/**
 * The response cache's fast path: a request whose operation is known, whose
 * estimate the cost bucket covers and whose answer is fresh in the cache is
 * answered from the stored bytes,
 * written around with what changes per request (rate headers, Age, the cost
 * extension), exactly as the pipeline answers a hit through Apollo. Returns
 * false, having written nothing, for anything else, including a hit the cost
 * bucket cannot cover (Apollo's path answers THROTTLED), a GET Apollo would
 * refuse, and an Accept it cannot answer.
 */
export function createCachedAnswer(options: CachedAnswerOptions) {
  const cachingHeaders = new WeakMap<CachedResponse, { facts: string; headers: Record<string, string> }>();
  return async (req: IncomingMessage, res: ServerResponse, request: CachedAnswerRequest): Promise<boolean> => {
    const { operation, held } = request;
    if (!held.allowed) return false;
    if (req.method === 'GET' && !apolloWouldRunGet(req)) return false;
    const accept = req.headers.accept;
    // Apollo also offers the subscription-callback flavour of application/json to a client that names it: Apollo's to answer.
    if (accept && /callbackspec/i.test(accept)) return false;
    const contentType = graphqlMediaType(accept);
    if (!contentType) return false;
    const { viewer, limits } = request;
    const cacheKey =
      operation.sharedKey ??
      responseCacheKey({
        documentKey: operation.documentKey,
        operationName: operation.operationName,
        variables: request.variables ?? {},
        viewer,
        viewerKey: request.viewerKey,
        policy: operation.policy,
      });
    const entry = await options.responseCache.get(cacheKey);
    if (!entry || !isFresh(entry)) return false;

    const { report } = request;
    report.operationName = operation.operationName ?? undefined;
    report.cache = 'HIT';
    report.cost = operation.cost;
    options.metrics.cost.observe({ tier: viewer.tier }, operation.cost);
    // Nothing ran, so nothing is charged; the request is metered as on Apollo's path.
    if (viewer.kind === 'user') await options.usage.record(viewer.userId, 0);

    const age = ageOf(entry);
    const credentialed = hasCredentials({ get: (name) => req.headers[name] as string | undefined });
    // The caching headers change only with the age and the credentials: worked out once for each, per stored entry.
    const facts = `${credentialed ? 1 : 0}:${age}:${operation.policy.scope}:${operation.policy.maxAge}`;
    let known = cachingHeaders.get(entry);
    if (known?.facts !== facts) {
      known = {
        facts,
        headers: httpCacheHeaders({
          credentialed,
          operation: OperationTypeNode.QUERY,
          policy: operation.policy,
          maxAgeLeft: operation.policy.maxAge - age,
          tags: entry.tags,
          failed: false,
          changesViewer: false,
          staleWhileRevalidate: options.staleWhileRevalidateSeconds,
        }),
      };
      cachingHeaders.set(entry, known);
    }
    const cacheHeaders = known.headers;
    res.setHeader('content-type', contentType);
    res.setHeader('x-cache', 'HIT');
    res.setHeader('age', String(age));
    for (const name in cacheHeaders) res.setHeader(name, cacheHeaders[name]!);
    for (const name in request.headers) res.setHeader(name, request.headers[name]!);
    res.statusCode = 200;
    // The body Apollo would write for { data, extensions: { cost } }, its trailing newline included.
    const cost = {
      requestedQueryCost: operation.cost,
      actualQueryCost: 0,
      throttleStatus: {
        maximumAvailable: limits.costBucketCapacity,
        currentlyAvailable: Math.floor(held.available),
        restoreRate: limits.costRestorePerSecond,
      },
    };
    res.end(`{"data":${entry.data},"extensions":{"cost":${JSON.stringify(cost)}}}\n`);
    return true;
  };
}
