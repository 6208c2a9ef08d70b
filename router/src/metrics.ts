import { LATENCY_BUCKETS, createMetrics } from '@memegraph/service-kit';

/** The `operation` label of names past the limit. */
export const OTHER_OPERATIONS = 'other';

export interface RouterMetricsOptions {
  /** Operation names always labelled as themselves: the trusted-documents manifest's. */
  knownOperations?: Iterable<string>;
  /** How many other distinct operation names are labelled as themselves, first come; later ones are `other`. Default 100. */
  operationLabels?: number;
}

/**
 * The `operation` label of a name. Every label value is a series kept for the
 * life of the process (a histogram's, a dozen buckets each), and any client
 * can invent operation names: so only names the router knows get their own.
 */
export function createOperationLabels(options: RouterMetricsOptions = {}): (name: string) => string {
  const known = new Set(options.knownOperations ?? []);
  const limit = options.operationLabels ?? 100;
  const seen = new Set<string>();
  return (name) => {
    if (known.has(name) || seen.has(name)) return name;
    if (seen.size >= limit) return OTHER_OPERATIONS;
    seen.add(name);
    return name;
  };
}

/** The router's Prometheus metrics, all in one registry served at /metrics. */
export function createRouterMetrics(options: RouterMetricsOptions = {}) {
  const metrics = createMetrics('router');
  return {
    registry: metrics.registry,
    /** The bounded `operation` label of `requests` for an operation name. */
    operationLabel: createOperationLabels(options),
    requests: metrics.histogram(
      'graphql_request_duration_seconds',
      'GraphQL requests by operation name and HTTP status',
      ['operation', 'status'],
      LATENCY_BUCKETS,
    ),
    rejections: metrics.counter(
      'graphql_rejections_total',
      'Requests or fields refused, by reason (error code) and tier',
      ['reason', 'tier'],
    ),
    cost: metrics.histogram(
      'graphql_operation_cost',
      'Estimated cost of executed operations, in points',
      ['tier'],
      [1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000, 20000],
    ),
    cache: metrics.counter(
      'response_cache_lookups_total',
      'Response cache lookups by layer (local, redis) and result (hit, stale, miss)',
      ['layer', 'result'],
    ),
    breakers: metrics.gauge(
      'subgraph_breaker_state',
      'Circuit breaker of each subgraph: 0 closed, 1 half-open, 2 open, 3 isolated',
      ['subgraph'],
    ),
    cdnPurges: metrics.counter(
      'cdn_purges_total',
      'Purge requests to CDN_PURGE_URL by outcome: sent, retried (an attempt failed), failed (every attempt did), dropped (queue full)',
      ['outcome'],
    ),
    singleFlightWaits: metrics.counter(
      'response_cache_single_flight_waits_total',
      "Response-cache misses that waited for another request's execution of the same key instead of executing (RESPONSE_CACHE_SINGLE_FLIGHT)",
    ),
    singleFlightUnshared: metrics.counter(
      'response_cache_single_flight_unshared_total',
      'Of those, the ones that executed after all: the answer waited for had errors or was not cached',
    ),
    subgraphFetchesShared: metrics.counter(
      'subgraph_fetches_shared_total',
      'Subgraph fetches not sent because an identical one in flight answered them (SUBGRAPH_DEDUP), by subgraph',
      ['subgraph'],
    ),
    entityCacheEntities: metrics.counter(
      'entity_cache_entities_total',
      'Entities asked for by _entities fetches, by subgraph and result: hit (served from the entity cache) or miss (fetched)',
      ['subgraph', 'result'],
    ),
    subscriptionStreams: metrics.gauge(
      'subscription_streams',
      'Subscriptions open on this router, by transport (sse, ws)',
      ['transport'],
    ),
    subscriptionConnections: metrics.gauge(
      'subscription_connections',
      'WebSocket connections open on this router (each may carry several subscriptions)',
      ['transport'],
    ),
    subscriptionEvents: metrics.counter('subscription_events_total', 'Subscription events delivered, by transport', [
      'transport',
    ]),
    subgraphLatency: metrics.histogram(
      'subgraph_fetch_duration_seconds',
      'Router to subgraph fetches by subgraph and outcome',
      ['subgraph', 'outcome'],
      LATENCY_BUCKETS,
    ),
  };
}

export type RouterMetrics = ReturnType<typeof createRouterMetrics>;
