import type { GraphQLSchema } from 'graphql';
import type { ApolloGateway } from '@apollo/gateway';
import type {
  GatewayExecutionResult,
  GatewayExecutor,
  GatewayGraphQLRequestContext,
  GatewayInterface,
  GatewaySchemaLoadOrUpdateCallback,
} from '@apollo/server-gateway-interface';
import type { Logger, TierTable } from '@memegraph/service-kit';
import { SingleFlight } from '../cache/singleFlight';
import type { SharedFlights } from '../cache/sharedFlight';
import type { ResponseCache } from '../cache/store';
import type { CostBucket } from '../cost/bucket';
import type { FieldRateLimiter } from '../limits/fieldRateLimit';
import type { RouterMetrics } from '../metrics';
import type { SchemaPolicy } from '../policy/schemaPolicy';
import type { UsageMeter } from '../usage/meter';
import type { ViewerCache } from '../viewer/cache';
import { createAnalysis } from '../stages/analysis';
import type { RequestFingerprints } from '../stages/cachedAnswer';
import { createDemandControl } from '../stages/demandControl';
import { createExecute } from '../stages/execute';
import { createFieldRateLimits } from '../stages/fieldRateLimits';
import { Plans } from '../stages/plans';
import { respond } from '../stages/respond';
import { createResponseCache } from '../stages/responseCache';
import { runStages, type Stage } from '../stages/runner';
import { createSettle } from '../stages/settle';
import { OperationState } from '../stages/state';
import { createStore } from '../stages/store';

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

/**
 * The router's operation stages around @apollo/gateway's executor, run in
 * order for every operation Apollo executes (stages/runner.ts): analysis and
 * authorization, demand control, field rate limits, the response cache,
 * execute, store, settle, respond. This class is their wiring and the
 * gateway interface Apollo Server talks to.
 */
export class PipelineGateway implements GatewayInterface {
  private schema?: GraphQLSchema;
  private inner?: GatewayExecutor;
  private readonly stages: Stage<OperationState>[];
  /** Everything worked out from the schema and its policy. */
  private readonly forget: () => void;

  constructor(
    private readonly gateway: ApolloGateway,
    private readonly options: PipelineOptions,
  ) {
    const schema = () => this.schema!;
    const policy = () => this.options.policy;
    const executor = () => this.inner!;
    const { metrics, fingerprints } = options;
    const cost = { defaultListSize: options.defaultListSize };
    const plans = new Plans();
    const flights = new SingleFlight({
      onWait: () => metrics.singleFlightWaits.inc(),
      onUnshared: () => metrics.singleFlightUnshared.inc(),
      across: options.sharedFlights,
    });
    const analysis = createAnalysis({ schema, policy, metrics });
    const demandControl = createDemandControl({ schema, policy, bucket: options.bucket, plans, cost, metrics });
    this.stages = [
      analysis,
      demandControl,
      createFieldRateLimits({ schema, fieldLimiter: options.fieldLimiter, plans, metrics }),
      createResponseCache({
        responseCache: options.responseCache,
        flights,
        singleFlight: options.singleFlight,
        staleWhileRevalidateSeconds: options.staleWhileRevalidateSeconds,
        fingerprints,
        schema,
        executor,
        plans,
        log: options.log,
      }),
      createExecute({ schema, executor, plans }),
      createStore({
        responseCache: options.responseCache,
        fingerprints,
        entitlementMutations: options.entitlementMutations,
      }),
      createSettle({
        schema,
        policy,
        bucket: options.bucket,
        usage: options.usage,
        viewerCache: options.viewerCache,
        entitlementMutations: options.entitlementMutations,
        cost,
        metrics,
      }),
      respond,
    ];
    this.forget = () => {
      analysis.clear();
      demandControl.clear();
      plans.clear();
      fingerprints.clear();
    };
  }

  /** A reloaded supergraph brings its own directives; the gateway's schema update follows. */
  setPolicy(policy: SchemaPolicy): void {
    this.options.policy = policy;
    this.forget();
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

  private async execute(rc: GatewayGraphQLRequestContext): Promise<GatewayExecutionResult> {
    const state = new OperationState(rc, this.options.tiers);
    try {
      await runStages(this.stages, state);
    } finally {
      // Whatever happened (a refusal, a failure, a throw), those waiting are released: with nothing, they execute.
      state.lead?.settle(undefined);
    }
    return state.result!;
  }
}
