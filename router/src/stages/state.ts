import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DocumentNode, FieldNode, GraphQLError } from 'graphql';
import type { GatewayExecutionResult, GatewayGraphQLRequestContext } from '@apollo/server-gateway-interface';
import { forMediaType, type HttpError, type TierLimits, type TierTable, type Viewer } from '@memegraph/service-kit';
import type { RequestReport, RouterContext } from '../context';
import type { CachePolicy } from '../cache/policy';
import type { Lead } from '../cache/singleFlight';
import type { CachedResponse } from '../cache/store';
import type { BucketLimits, BucketState } from '../cost/bucket';
import type { CostResult } from '../cost/calculate';
import type { GuardedField, OperationAnalysis } from '../operation/analyze';
import type { Removal } from '../operation/patch';
import { bucketKey, viewerKey } from '../limits/keys';
import type { RouterMetrics } from '../metrics';
import type { StageState } from './runner';

/** The operation of a request as sent, before anything parses it. */
export interface SentOperation {
  /** The document text: as sent, from a trusted document id, or from the APQ store for a hash sent alone. */
  text: string;
  operationName: string | undefined;
  variables: Record<string, unknown> | undefined;
}

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

/**
 * One GraphQL request on its way through the request stages (server.ts):
 * identify, admission, persisted documents, operation limits, request
 * limits, the cached answer, then Apollo. Each stage fills its part.
 */
export class RequestState implements StageState {
  /** Set once the answer is written (a hit from stored bytes): Apollo is not entered. */
  answered = false;
  /** Who the log line names: known once identified. */
  who = { id: 'unidentified', tier: 'unknown' };
  // identify
  viewer!: Viewer;
  limits!: TierLimits;
  /** The key the viewer's limits, bucket and quota are kept under. */
  viewerKey!: string;
  // admission
  /** The POST body, parsed; undefined for a GET. */
  body: unknown;
  /** Operations the request holds: a batch of N counts N for every limit. */
  operations = 1;
  // persisted documents
  /** The query string Apollo reads for a GET: trusted documents may have rewritten it. */
  search?: string;
  /** The text each operation runs, where known before Apollo, by its index in the request, for the operation limits. */
  texts = new Map<number, string>();
  /** A single operation as Apollo will read it, when its text is known before Apollo; for its fingerprint. */
  sent?: SentOperation;
  /** A batch's operations refused on their own, by index: each answered in its place. */
  refusals = new Map<number, HttpError>();
  /** A refusal of the whole request, answered once the request limits counted it. */
  refused?: HttpError;
  // request limits
  /** The request's fingerprint (one operation, text known): its operation may be known from an earlier answer. */
  fingerprint?: string;
  cachedOperation?: CachedOperation;
  /** The cost bucket checked for a known operation's estimate, with the request's other limits. */
  held?: BucketState;
  /** Headers every answer carries: CORS, the rate headers, the request id. */
  headers: Record<string, string> = {};

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly report: RequestReport,
  ) {}
}

/** How an operation was answered. */
export type Outcome =
  /** Refused or failed before anything ran: nothing charged, nothing metered. */
  | 'refused'
  /** Costed, nothing run (GitHub's dryRun). */
  | 'dryRun'
  /** From the response cache (fresh, stale while revalidating, stale if error, or a flight's): nothing run is charged. */
  | 'cached'
  | 'executed';

/** What the respond stage and the answer's head are told about an operation's answer (see respond.ts). */
export interface AnswerDecision {
  /** X-Cache, and Age for an answer from the cache. */
  cache?: { mark: 'HIT' | 'MISS' | 'STALE'; age?: number };
  /** What browsers and CDNs may keep, when the answer is one the response cache would keep (see httpHeaders.ts). */
  keep?: { maxAgeLeft: number; tags: readonly string[]; policy: CachePolicy; changesViewer: boolean };
  /** Retry-After in seconds: THROTTLED, or every field over its limit. */
  retryAfter?: number;
  /** A status the error-code table cannot know: 429 when every field asked for was over its limit. */
  status?: number;
}

/** A document to execute: as sent, or rewritten (fields removed, entity ids added), under its own hash. */
export interface Plan {
  document: DocumentNode;
  queryHash: string;
}

/**
 * One operation inside the gateway (gateway/pipeline.ts), through the
 * operation stages: analysis, demand control, field rate limits, the
 * response cache, execute, store, settle, respond.
 */
export class OperationState implements StageState {
  answered = false;
  outcome: Outcome = 'refused';
  /** The answer so far: set by the stage that answered, completed by settle. */
  result?: GatewayExecutionResult;
  decision: AnswerDecision = {};

  readonly context: RouterContext;
  readonly viewer: Viewer;
  readonly limits: TierLimits;
  readonly viewerKey: string;
  readonly bucketKey: string;
  readonly bucketLimits: BucketLimits;

  // analysis
  variables: Record<string, unknown> = {};
  documentKey = '';
  analysis!: OperationAnalysis;
  cachePolicy!: CachePolicy;
  /** Root field names, for mutations. */
  mutationFields: string[] = [];
  /** Whether any field has @rateLimit: then every occurrence counts, cache hits included. */
  fieldLimited = false;
  /** Fields removed before planning (unauthorized, over their limit): put back as nulls with errors. */
  removals: Removal[] = [];
  remove = new Set<FieldNode>();
  /** Fields the router answers itself (rateLimit). */
  routerFields: GuardedField[] = [];

  // demand control
  plan!: Plan;
  estimate: CostResult = { cost: 0, nodeCount: 0 };
  /** Points taken from the bucket: settle refunds what the operation did not use. */
  charged = 0;
  /** The bucket after the take (or peek). */
  bucket?: BucketState;

  // field rate limits
  rateLimited = false;

  // response cache
  /** The response cache key, for an operation whose answer may be cached. */
  cacheKey?: string;
  /** The entry found under it: fresh (answered), or kept past its maxAge for stale-if-error. */
  cached?: CachedResponse;
  /** This execution leads its key's flight: settled with what is stored, or nothing. */
  lead?: Lead;

  // execute
  tags = new Set<string>();
  errors: GraphQLError[] = [];

  constructor(
    readonly rc: GatewayGraphQLRequestContext,
    tiers: TierTable,
  ) {
    this.context = rc.context as RouterContext;
    this.viewer = this.context.viewer;
    this.limits = tiers[this.viewer.tier];
    this.viewerKey = viewerKey(this.viewer);
    this.bucketKey = bucketKey(this.viewerKey);
    this.bucketLimits = {
      capacity: this.limits.costBucketCapacity,
      restorePerSecond: this.limits.costRestorePerSecond,
    };
  }

  /** An answer: the stages after this one are skipped, but settle and respond. */
  answer(outcome: Outcome, result: GatewayExecutionResult): void {
    this.outcome = outcome;
    this.result = result;
    this.answered = true;
  }
}

/** Marks a refusal (of the operation or of one of its fields) for the log line and the rejections metric. */
export function reject(state: OperationState, metrics: RouterMetrics, reason: string): void {
  state.context.report.rejection = reason;
  metrics.rejections.inc({ reason, tier: state.viewer.tier });
}

/**
 * A refusal of the whole request, marked for the log line and the
 * rejections metric (by tier once the viewer is known), with the status its
 * answer's media type calls for: application/json answers a refused
 * operation 200 (forMediaType).
 */
export function refuse(state: RequestState, metrics: RouterMetrics, error: HttpError): HttpError {
  state.report.rejection = error.code;
  metrics.rejections.inc({ reason: error.code, tier: state.who.tier });
  return forMediaType(error, state.req.headers.accept);
}
