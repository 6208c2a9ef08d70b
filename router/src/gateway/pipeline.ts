import { createHash } from 'node:crypto';
import {
  GraphQLError,
  Kind,
  valueFromAST,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
} from 'graphql';
import { LRUCache } from 'lru-cache';
import type { ApolloGateway } from '@apollo/gateway';
import type {
  GatewayExecutionResult,
  GatewayExecutor,
  GatewayGraphQLRequestContext,
  GatewayInterface,
  GatewaySchemaLoadOrUpdateCallback,
} from '@apollo/server-gateway-interface';
import { ErrorCode, type Logger, type TierTable, type Viewer } from '@memegraph/service-kit';
import type { RouterContext } from '../context';
import { takeEntityTags, withEntityIds } from '../cache/entities';
import { applyHttpCacheHeaders, changesViewer, hasCredentials } from '../cache/httpHeaders';
import { documentKey, responseCacheKey } from '../cache/key';
import { cachePolicyOf, type CachePolicy } from '../cache/policy';
import { mutationPurges } from '../cache/rules';
import { ageOf, isFresh, isRevalidatable, type CachedResponse, type ResponseCache } from '../cache/store';
import { SingleFlight, type Lead } from '../cache/singleFlight';
import type { SharedFlights } from '../cache/sharedFlight';
import type { CostBucket } from '../cost/bucket';
import { bucketKey } from '../limits/keys';
import { actualCost, estimateCost, type CostResult } from '../cost/calculate';
import type { FieldRateLimiter } from '../limits/fieldRateLimit';
import type { RouterMetrics } from '../metrics';
import { ROUTER_FIELDS, analyzeOperation, type GuardedField, type OperationAnalysis } from '../operation/analyze';
import { coerceVariables, conditionsKey, conditionsOf, fragmentsOf } from '../operation/walk';
import { patchResult, type Removal } from '../operation/patch';
import { withoutFields } from '../operation/rewrite';
import type { Policy, SchemaPolicy } from '../policy/schemaPolicy';
import type { UsageMeter } from '../usage/meter';
import type { ViewerCache } from '../viewer/cache';
import type { RequestFingerprints } from '../stages/cachedAnswer';

export interface PipelineOptions {
  policy: SchemaPolicy;
  tiers: TierTable;
  bucket: CostBucket;
  fieldLimiter: FieldRateLimiter;
  usage: UsageMeter;
  viewerCache: ViewerCache;
  /** List size for list fields without @listSize. */
  defaultListSize: number;
  /** Mutations after which the viewer's cached entitlement must be dropped everywhere. */
  entitlementMutations: ReadonlySet<string>;
  responseCache: ResponseCache;
  /** Concurrent misses of one response-cache key wait for one execution and are answered from it. */
  singleFlight: boolean;
  /** With Redis: concurrent misses of one key on different routers wait for one execution too (cache/sharedFlight.ts). */
  sharedFlights?: SharedFlights;
  /** Seconds past maxAge an answer is served while one refresh of it runs in the background (0: not at all). */
  staleWhileRevalidateSeconds: number;
  /** Learns the requests whose answers are cached, so the next are answered before Apollo (stages/cachedAnswer.ts). */
  fingerprints: RequestFingerprints;
  metrics: RouterMetrics;
  log: Logger;
}

/** The key limits, buckets and quotas are kept under: the user, or the client IP for anonymous viewers. */
export function viewerKey(viewer: Viewer): string {
  if (viewer.kind === 'user') return `u:${viewer.userId}`;
  if (viewer.kind === 'service') return `s:${viewer.service}`;
  return `ip:${viewer.clientIp ?? 'unknown'}`;
}

/** Why `viewer` may not see a field with `policy`, or null when it may. */
export function denial(policy: Policy, viewer: Viewer): string | null {
  if ((policy.authenticated || policy.requiresScopes?.length) && viewer.kind !== 'user')
    return 'Sign in to see this field';
  const sets = policy.requiresScopes;
  if (sets?.length && !sets.some((set) => set.every((scope) => viewer.scopes.includes(scope)))) {
    return `This field needs scope ${sets.map((s) => s.join(' + ')).join(' or ')}`;
  }
  return null;
}

function argumentValues(
  field: GuardedField,
  schema: GraphQLSchema,
  variables: Record<string, unknown>,
): Record<string, unknown> {
  const type = schema.getType(field.typeName);
  const definition = type && 'getFields' in type ? type.getFields()[field.fieldName] : undefined;
  const values: Record<string, unknown> = {};
  for (const arg of definition && 'args' in definition ? definition.args : []) {
    const node = field.nodes[0]!.arguments?.find((a) => a.name.value === arg.name);
    values[arg.name] = node ? valueFromAST(node.value, arg.type, variables) : arg.defaultValue;
  }
  return values;
}

const CHARGE_NOTHING = { cost: 0, nodeCount: 0 };

/** What a document is, whatever its variables. */
interface DocumentFacts {
  fragments: Record<string, FragmentDefinitionNode>;
  /** Its `@skip`/`@include` directives: the executed shape depends on their conditions only. */
  conditions: ReturnType<typeof conditionsOf>;
  /** The document's canonical digest, for response cache keys. */
  documentKey: string;
}

/** What the operation executes, for one set of `@skip`/`@include` conditions. */
interface Prepared {
  analysis: OperationAnalysis;
  cachePolicy: CachePolicy;
  /** Root field names, for mutations. */
  mutationFields: string[];
  /** Whether any field has @rateLimit: then every occurrence counts, cache hits included. */
  fieldLimited: boolean;
}

/** Estimates are kept for documents and variables up to this size; larger ones are costed each time. */
const MAX_ESTIMATE_KEY = 4_096;

const hasDownstreamFailure = (errors: readonly GraphQLError[] | undefined) =>
  !!errors?.some(
    (e) => e.extensions?.code === ErrorCode.DOWNSTREAM_SERVICE_ERROR || typeof e.extensions?.serviceName === 'string',
  );

/** The execution's part in single-flight: set when it leads a flight, settled once it ends. */
interface FlightSlot {
  lead?: Lead;
}

/**
 * The router's pipeline around @apollo/gateway's executor: authorization,
 * demand control and field rate limits before the query plan is made;
 * refunds, usage and the removed fields' nulls after execution.
 */
export class PipelineGateway implements GatewayInterface {
  private schema?: GraphQLSchema;
  private inner?: GatewayExecutor;
  private readonly documents = new LRUCache<string, DocumentFacts>({ max: 2_000 });
  private readonly analyses = new LRUCache<string, Prepared>({ max: 2_000 });
  private readonly rewrites = new LRUCache<string, DocumentNode>({ max: 2_000 });
  private readonly estimates = new LRUCache<string, CostResult>({
    max: 10_000,
    maxSize: 8 * 1024 * 1024,
    sizeCalculation: (_, key) => key.length + 1,
  });
  /** Response-cache misses executing now, by cache key (which holds the partition and, for PRIVATE, the viewer). */
  private readonly flights: SingleFlight;

  constructor(
    private readonly gateway: ApolloGateway,
    private readonly options: PipelineOptions,
  ) {
    this.flights = new SingleFlight({
      onWait: () => options.metrics.singleFlightWaits.inc(),
      onUnshared: () => options.metrics.singleFlightUnshared.inc(),
      across: options.sharedFlights,
    });
  }

  /** A reloaded supergraph brings its own directives; the gateway's schema update follows. */
  setPolicy(policy: SchemaPolicy): void {
    this.options.policy = policy;
    this.forget();
  }

  /** Everything worked out from the schema and its policy. */
  private forget(): void {
    this.documents.clear();
    this.analyses.clear();
    this.rewrites.clear();
    this.estimates.clear();
    this.options.fingerprints.clear();
  }

  onSchemaLoadOrUpdate(callback: GatewaySchemaLoadOrUpdateCallback) {
    return this.gateway.onSchemaLoadOrUpdate((schemaContext) => {
      this.schema = schemaContext.apiSchema;
      this.forget();
      callback(schemaContext);
    });
  }

  async load(options: Parameters<GatewayInterface['load']>[0]) {
    const { executor } = await this.gateway.load(options);
    this.inner = executor ?? undefined;
    return { executor: (requestContext: GatewayGraphQLRequestContext) => this.execute(requestContext) };
  }

  stop() {
    return this.gateway.stop();
  }

  private facts(rc: GatewayGraphQLRequestContext): DocumentFacts {
    const key = `${rc.queryHash}:${rc.operationName ?? ''}`;
    let facts = this.documents.get(key);
    if (!facts) {
      facts = {
        fragments: fragmentsOf(rc.document),
        conditions: conditionsOf(rc.document),
        documentKey: documentKey(rc.document, rc.operation!),
      };
      this.documents.set(key, facts);
    }
    return facts;
  }

  /** The operation as it executes with these variables; throws a coded error for a condition execution would refuse. */
  private prepare(
    rc: GatewayGraphQLRequestContext,
    facts: DocumentFacts,
    variables: Record<string, unknown>,
  ): Prepared {
    const key = `${rc.queryHash}:${rc.operationName ?? ''}:${conditionsKey(facts.conditions, variables)}`;
    let prepared = this.analyses.get(key);
    if (!prepared) {
      const input = { schema: this.schema!, operation: rc.operation!, fragments: facts.fragments, variables };
      const analysis = analyzeOperation(input, this.options.policy);
      prepared = {
        analysis,
        cachePolicy: cachePolicyOf(input, this.options.policy),
        mutationFields: rc.operation!.operation === 'mutation' ? analysis.rootFields.map((f) => f.name) : [],
        fieldLimited: analysis.guarded.some((field) => !!field.policy.rateLimit),
      };
      this.analyses.set(key, prepared);
    }
    return prepared;
  }

  /** The planned document with entity ids added, so the response can be tagged. */
  private withIds(plan: { document: DocumentNode; queryHash: string }) {
    const queryHash = `${plan.queryHash}:ids`;
    let document = this.rewrites.get(queryHash);
    if (!document) {
      document = withEntityIds(this.schema!, plan.document);
      this.rewrites.set(queryHash, document);
    }
    return { document, queryHash };
  }

  /** The estimated cost of what will run: the same document, operation and variables always cost the same. */
  private estimate(
    plan: { document: DocumentNode; queryHash: string },
    operationName: string | null,
    variables: Record<string, unknown>,
  ): CostResult {
    const key = `${plan.queryHash}\0${operationName ?? ''}\0${JSON.stringify(variables)}`;
    const known = this.estimates.get(key);
    if (known) return known;
    const { schema, options } = this;
    const estimate = estimateCost(
      { schema: schema!, policy: options.policy, document: plan.document, operationName, variables },
      options,
    );
    if (key.length <= MAX_ESTIMATE_KEY) this.estimates.set(key, estimate);
    return estimate;
  }

  private rewrite(rc: GatewayGraphQLRequestContext, analysis: OperationAnalysis, remove: ReadonlySet<FieldNode>) {
    if (remove.size === 0) return { document: rc.document, queryHash: rc.queryHash };
    const signature = analysis.guarded.map((g) => (remove.has(g.nodes[0]!) ? '1' : '0')).join('');
    const queryHash = createHash('sha256')
      .update(`${rc.queryHash}:${rc.operationName ?? ''}:${signature}`)
      .digest('hex');
    let document = this.rewrites.get(queryHash);
    if (!document) {
      document = withoutFields(rc.document, remove);
      this.rewrites.set(queryHash, document);
    }
    return { document, queryHash };
  }

  private async execute(rc: GatewayGraphQLRequestContext): Promise<GatewayExecutionResult> {
    const slot: FlightSlot = {};
    try {
      return await this.run(rc, slot);
    } finally {
      // Whatever happened (a refusal, a failure, a throw), those waiting are released: with nothing, they execute.
      slot.lead?.settle(undefined);
    }
  }

  /**
   * Executes a cacheable query again and stores its answer, for stale while
   * revalidate: the request that started it was answered already. Only for
   * operations that lost no field (see cacheableSoFar), so the document
   * runs as sent; nothing is stored from an answer with errors.
   */
  private async revalidate(
    rc: GatewayGraphQLRequestContext,
    cacheKey: string,
    maxAge: number,
    lead: Lead,
  ): Promise<void> {
    try {
      const executed = this.withIds({ document: rc.document, queryHash: rc.queryHash });
      const result = await this.inner!({ ...rc, document: executed.document, queryHash: executed.queryHash });
      if (result.errors?.length || !result.data) return;
      const tags = takeEntityTags(result.data);
      const entry: CachedResponse = {
        data: JSON.stringify(result.data),
        storedAt: Date.now(),
        maxAge,
        tags: [...tags],
      };
      await this.options.responseCache.set(cacheKey, entry);
      lead.settle(entry);
    } catch (error) {
      this.options.log.warn({ err: error }, 'stale answer not refreshed');
    } finally {
      lead.settle(undefined);
    }
  }

  private async run(rc: GatewayGraphQLRequestContext, slot: FlightSlot): Promise<GatewayExecutionResult> {
    // Apollo Server leaves resolving the operation to a gateway: an error returned here becomes
    // its OPERATION_RESOLUTION_FAILURE (400), where a throw would be a 500.
    if (!rc.operation) {
      const operations = rc.document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION).length;
      const message = rc.request.operationName
        ? `Unknown operation named "${rc.request.operationName}".`
        : operations > 1
          ? 'Must provide an operation name if the document contains several operations.'
          : 'Must provide an operation.';
      return { errors: [new GraphQLError(message)] };
    }
    const { options } = this;
    const schema = this.schema!;
    const context = rc.context as RouterContext;
    const viewer = context.viewer;
    const limits = options.tiers[viewer.tier];
    const key = viewerKey(viewer);
    const bucketLimits = { capacity: limits.costBucketCapacity, restorePerSecond: limits.costRestorePerSecond };
    const bucketName = bucketKey(key);
    // Every check reads the operation as it executes: with the variables execution will use.
    const facts = this.facts(rc);
    const coerced = coerceVariables(schema, rc.operation, rc.request.variables);
    if ('errors' in coerced) return { errors: coerced.errors };
    const variables = coerced.variables;
    let prepared: Prepared;
    try {
      prepared = this.prepare(rc, facts, variables);
    } catch (error) {
      if (error instanceof GraphQLError) return { errors: [error] };
      throw error;
    }
    const analysis = prepared.analysis;
    const setHeader = (name: string, value: string) => rc.response?.http?.headers.set(name, value);
    const report = context.report;
    report.operationName = rc.operationName ?? undefined;
    const reject = (reason: string) => {
      report.rejection = reason;
      options.metrics.rejections.inc({ reason, tier: viewer.tier });
    };

    // 1. Authorization: fields this viewer may not see never reach the planner.
    const removals: Removal[] = [];
    const remove = new Set<FieldNode>();
    const routerFields: GuardedField[] = [];
    for (const field of analysis.guarded) {
      const reason = denial(field.policy, viewer);
      if (reason) {
        reject(ErrorCode.UNAUTHORIZED_FIELD_OR_TYPE);
        removals.push({ ...field, error: { code: ErrorCode.UNAUTHORIZED_FIELD_OR_TYPE, message: reason } });
        for (const node of field.nodes) remove.add(node);
      } else if (ROUTER_FIELDS.has(`${field.typeName}.${field.fieldName}`)) {
        routerFields.push(field);
        for (const node of field.nodes) remove.add(node);
      }
    }

    // 2. Demand control on what would actually run.
    let plan = this.rewrite(rc, analysis, remove);
    const estimate = this.estimate(plan, rc.operationName, variables);
    // GitHub's dryRun: an operation that asks only for its cost runs nothing and is charged nothing;
    // one that asks for anything else as well runs, and is charged, as usual.
    const routerRoots = new Set(routerFields.filter((f) => f.path.length === 1).map((f) => f.path[0]));
    const dryRun =
      routerFields.some((f) => argumentValues(f, schema, variables).dryRun === true) &&
      analysis.rootFields.every((f) => routerRoots.has(f.responseKey));
    const throttleStatus = (available: number) => ({
      maximumAvailable: limits.costBucketCapacity,
      currentlyAvailable: Math.floor(available),
      restoreRate: limits.costRestorePerSecond,
    });
    const costExtension = (actualQueryCost: number, available: number) => ({
      cost: { requestedQueryCost: estimate.cost, actualQueryCost, throttleStatus: throttleStatus(available) },
    });
    report.cost = estimate.cost;
    if (estimate.cost > limits.maxCostPerOperation) {
      reject(ErrorCode.COST_ESTIMATED_TOO_EXPENSIVE);
      const bucket = await options.bucket.peek(bucketName, bucketLimits);
      return {
        errors: [
          new GraphQLError(
            `The operation's estimated cost ${estimate.cost} is over this tier's maximum of ${limits.maxCostPerOperation}`,
            {
              extensions: {
                code: ErrorCode.COST_ESTIMATED_TOO_EXPENSIVE,
                cost: { estimated: estimate.cost, max: limits.maxCostPerOperation },
              },
            },
          ),
        ],
        extensions: costExtension(0, bucket.available),
      };
    }
    const throttled = (refused: { available: number; retryAfterMs: number }): GatewayExecutionResult => {
      reject(ErrorCode.THROTTLED);
      const retryAfter = Math.max(1, Math.ceil(refused.retryAfterMs / 1000));
      setHeader('retry-after', String(retryAfter));
      return {
        errors: [
          new GraphQLError(
            `Cost budget spent: the operation needs ${estimate.cost} points, ${Math.floor(refused.available)} are left`,
            {
              extensions: { code: ErrorCode.THROTTLED, retryAfterSeconds: retryAfter },
            },
          ),
        ],
        extensions: costExtension(0, refused.available),
      };
    };
    // What browsers and CDNs may keep (cache/httpHeaders.ts): the same on a hit as on the miss
    // that stored it, for the time the answer has left.
    const httpCache = (answer: { maxAgeLeft: number; tags: readonly string[]; failed: boolean }) => {
      if (!rc.response?.http) return;
      applyHttpCacheHeaders(rc.response.http.headers, {
        ...answer,
        credentialed: hasCredentials(rc.request.http?.headers),
        operation: rc.operation!.operation,
        policy: prepared.cachePolicy,
        changesViewer: changesViewer(prepared.mutationFields, options.entitlementMutations),
        staleWhileRevalidate: options.staleWhileRevalidateSeconds,
      });
    };
    /** An answer from the response cache (fresh, or stale while it is refreshed): nothing ran, so nothing is charged. */
    const fromCache = async (
      entry: CachedResponse,
      available: number,
      stale = false,
    ): Promise<GatewayExecutionResult> => {
      options.metrics.cost.observe({ tier: viewer.tier }, estimate.cost);
      const mark = stale ? 'STALE' : 'HIT';
      setHeader('x-cache', mark);
      report.cache = mark;
      const age = ageOf(entry);
      setHeader('age', String(age));
      httpCache({ maxAgeLeft: prepared.cachePolicy.maxAge - age, tags: entry.tags, failed: false });
      if (viewer.kind === 'user') await options.usage.record(viewer.userId, 0);
      const extensions = costExtension(0, available);
      return {
        data: JSON.parse(entry.data) as Record<string, unknown>,
        extensions: stale ? { ...extensions, stale: true } : extensions,
      };
    };
    /** The next request with this fingerprint is answered from the cache without Apollo, as this one is or will be. */
    const learn = (cacheKey: string) => {
      if (!context.fingerprint || prepared.fieldLimited) return;
      options.fingerprints.remember(context.fingerprint, {
        documentKey: facts.documentKey,
        operationName: rc.operationName,
        policy: prepared.cachePolicy,
        cost: estimate.cost,
        sharedKey: prepared.cachePolicy.scope === 'PRIVATE' ? undefined : cacheKey,
      });
    };
    const cacheKeyOf = () =>
      responseCacheKey({
        documentKey: facts.documentKey,
        operationName: rc.operationName,
        variables: rc.request.variables ?? {},
        viewer,
        viewerKey: key,
        policy: prepared.cachePolicy,
      });

    // 3. The response cache, for queries whose every field may be cached and that lost no field to
    // authorization. A hit is looked up before any points are taken: it is refused like any operation
    // when the bucket lacks the estimate, and otherwise served without taking any. Operations with
    // @rateLimit fields are looked up after those limits (step 4), which count every occurrence.
    const cacheableSoFar = prepared.cachePolicy.maxAge > 0 && removals.length === 0 && routerFields.length === 0;
    let cacheKey: string | null = null;
    let cached: CachedResponse | undefined;
    if (cacheableSoFar && !prepared.fieldLimited) {
      cacheKey = cacheKeyOf();
      cached = await options.responseCache.get(cacheKey);
      if (cached && isFresh(cached)) {
        learn(cacheKey);
        const held = await options.bucket.check(bucketName, estimate.cost, bucketLimits);
        return held.allowed ? fromCache(cached, held.available) : throttled(held);
      }
      if (cached && isRevalidatable(cached, options.staleWhileRevalidateSeconds)) {
        // Stale while revalidate: served at once, as a hit is charged, while one refresh per key runs in the background.
        const refresh = await this.flights.lead(cacheKey);
        if (refresh) void this.revalidate(rc, cacheKey, prepared.cachePolicy.maxAge, refresh);
        const held = await options.bucket.check(bucketName, estimate.cost, bucketLimits);
        return held.allowed ? fromCache(cached, held.available, true) : throttled(held);
      }
      if (options.singleFlight) {
        // Single flight: a miss of a key another request is executing waits for that answer and is served
        // it as a hit; the first miss leads (no await between the look-up above and the lead, so one does).
        const flight = await this.flights.join(cacheKey);
        if (flight.role === 'follow') {
          const shared = await flight.answer;
          if (shared) {
            learn(cacheKey);
            const held = await options.bucket.check(bucketName, estimate.cost, bucketLimits);
            return held.allowed ? fromCache(shared, held.available) : throttled(held);
          }
          // An answer with errors or partial data was not stored: never shared, this request executes on its own.
        } else {
          slot.lead = flight;
        }
      }
    }

    const charge = dryRun ? CHARGE_NOTHING : estimate;
    const taken = dryRun
      ? await options.bucket.peek(bucketName, bucketLimits)
      : await options.bucket.take(bucketName, charge.cost, bucketLimits);
    if (!taken.allowed) return throttled(taken);
    const rateLimitValue = (remaining: number) => ({
      cost: estimate.cost,
      limit: limits.costBucketCapacity,
      remaining: Math.floor(remaining),
      used: Math.ceil(limits.costBucketCapacity - remaining),
      resetAt: new Date(
        Date.now() + ((limits.costBucketCapacity - remaining) / limits.costRestorePerSecond) * 1000,
      ).toISOString(),
      nodeCount: estimate.nodeCount,
    });
    if (dryRun) {
      // GitHub's dryRun: cost the operation, run nothing, charge nothing.
      const data: Record<string, unknown> = {};
      const patched = patchResult(
        data,
        routerFields.map((f) => ({ ...f, value: rateLimitValue(taken.available) })),
      );
      return {
        data: patched.data ?? undefined,
        extensions: costExtension(0, taken.available),
      };
    }

    // 4. Field-level @rateLimit, per occurrence, shared by every router.
    let rateLimited = false;
    for (const field of analysis.guarded) {
      if (!field.policy.rateLimit || remove.has(field.nodes[0]!)) continue;
      const message = await options.fieldLimiter(
        {
          viewerKey: key,
          fieldName: `${field.typeName}.${field.fieldName}`,
          args: argumentValues(field, schema, variables),
        },
        field.policy.rateLimit,
      );
      if (message) {
        reject(ErrorCode.RATE_LIMIT_EXCEEDED);
        rateLimited = true;
        removals.push({ ...field, error: { code: ErrorCode.RATE_LIMIT_EXCEEDED, message } });
        for (const node of field.nodes) remove.add(node);
      }
    }
    if (rateLimited) plan = this.rewrite(rc, analysis, remove);

    // The response cache for operations with @rateLimit fields, now that their limits counted this one.
    const cacheable = cacheableSoFar && !rateLimited;
    if (cacheable && prepared.fieldLimited) {
      cacheKey = cacheKeyOf();
      cached = await options.responseCache.get(cacheKey);
      if (cached && isFresh(cached)) {
        const after = charge.cost > 0 ? await options.bucket.refund(bucketName, charge.cost, bucketLimits) : taken;
        return fromCache(cached, after.available);
      }
    }
    options.metrics.cost.observe({ tier: viewer.tier }, estimate.cost);

    // 5. Plan and execute what is left; ids are added when the response will be cached or purges others.
    const tagged = cacheable || prepared.mutationFields.length > 0;
    const executed = tagged ? this.withIds(plan) : plan;
    // Nothing left to run when every root field was removed: no plan, no subgraph call.
    const removedRoots = new Set(
      analysis.guarded.filter((g) => g.path.length === 1 && remove.has(g.nodes[0]!)).map((g) => g.path[0]),
    );
    const everythingRemoved = analysis.rootFields.every((f) => removedRoots.has(f.responseKey));
    const result: GatewayExecutionResult = everythingRemoved
      ? { data: {} }
      : await this.inner!({
          ...rc,
          // With a stale answer in hand, subgraph calls wait only briefly before it is served instead.
          context: cached ? { ...context, staleCopy: true } : context,
          document: executed.document,
          queryHash: executed.queryHash,
        });
    const tags = tagged && result.data ? takeEntityTags(result.data) : new Set<string>();

    if (cacheKey && result.errors?.length && hasDownstreamFailure(result.errors) && cached) {
      // Stale if error: a recent good answer beats a failure, marked as such.
      const after = charge.cost > 0 ? await options.bucket.refund(bucketName, charge.cost, bucketLimits) : taken;
      setHeader('x-cache', 'STALE');
      report.cache = 'STALE';
      setHeader('age', String(ageOf(cached)));
      httpCache({ maxAgeLeft: 0, tags: [], failed: false });
      return {
        data: JSON.parse(cached.data) as Record<string, unknown>,
        extensions: { ...costExtension(0, after.available), stale: true },
      };
    }
    if (cacheKey) {
      setHeader('x-cache', 'MISS');
      report.cache = 'MISS';
      if (!result.errors?.length && result.data) {
        // Errors and partial results are never cached.
        // Nothing changes the data after this point (no fields were removed), so it is stored as is.
        // The answer waits for the write, so every router finds it once a client has seen it.
        const entry: CachedResponse = {
          data: JSON.stringify(result.data),
          storedAt: Date.now(),
          maxAge: prepared.cachePolicy.maxAge,
          tags: [...tags],
        };
        await options.responseCache.set(cacheKey, entry);
        learn(cacheKey);
        // Those waiting on this key are answered from what was stored, as later requests will be.
        slot.lead?.settle(entry);
      }
    }
    if (prepared.mutationFields.length > 0) {
      // Only what a mutation that happened changed (see mutationPurges).
      const purges = mutationPurges({
        fields: analysis.rootFields,
        data: result.data,
        errors: result.errors,
        entityTags: tags,
        userId: viewer.kind === 'user' ? viewer.userId : null,
        entitlementMutations: options.entitlementMutations,
      });
      for (const purge of purges) await options.responseCache.purge(purge.tags, { keepStale: purge.keepStale });
    }

    // 6. Refund what the estimate over-charged.
    const actual = result.data
      ? actualCost(
          {
            schema,
            policy: options.policy,
            document: plan.document,
            operationName: rc.operationName,
            variables,
            data: result.data,
          },
          options,
        )
      : CHARGE_NOTHING;
    const refund = charge.cost - actual.cost;
    const after = refund > 0 ? await options.bucket.refund(bucketName, refund, bucketLimits) : taken;

    // 7. Put the removed fields back: the router's own values, or nulls with errors.
    const patched = patchResult(result.data, [
      ...removals,
      ...routerFields.map((f) => ({ ...f, value: rateLimitValue(after.available) })),
    ]);
    const errors = [
      ...(result.errors ?? []),
      ...patched.errors.map((e) => new GraphQLError(e.message, { path: e.path, extensions: e.extensions })),
    ];
    if (rateLimited && patched.data && Object.values(patched.data).every((v) => v === null)) {
      // Nothing was served: every field asked for was over its limit.
      if (rc.response?.http) rc.response.http.status = 429;
      setHeader('retry-after', '60');
    }

    // 8. Metering, and entitlement changes reaching every router.
    if (viewer.kind === 'user') {
      await options.usage.record(viewer.userId, actual.cost);
      if (prepared.mutationFields.some((name) => options.entitlementMutations.has(name)))
        await options.viewerCache.invalidateUser(viewer.userId);
    }

    // Only what the response cache would keep may be kept by others.
    httpCache({
      maxAgeLeft: cacheable ? prepared.cachePolicy.maxAge : 0,
      tags: [...tags],
      failed: errors.length > 0 || !patched.data,
    });
    return {
      data: patched.data,
      ...(errors.length ? { errors } : {}),
      extensions: { ...result.extensions, ...costExtension(actual.cost, after.available) },
    };
  }
}
