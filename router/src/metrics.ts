import { LATENCY_BUCKETS, createMetrics } from '@memegraph/service-kit';

/** The router's Prometheus metrics, all in one registry served at /metrics. */
export function createRouterMetrics() {
  const metrics = createMetrics('router');
  return {
    registry: metrics.registry,
    requests: metrics.histogram('graphql_request_duration_seconds', 'GraphQL requests by operation name and HTTP status', ['operation', 'status'], LATENCY_BUCKETS),
    rejections: metrics.counter('graphql_rejections_total', 'Requests or fields refused, by reason (error code) and tier', ['reason', 'tier']),
    cost: metrics.histogram('graphql_operation_cost', 'Estimated cost of executed operations, in points', ['tier'], [1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000, 20000]),
    cache: metrics.counter('response_cache_lookups_total', 'Response cache lookups by layer (local, redis) and result (hit, stale, miss)', ['layer', 'result']),
    breakers: metrics.gauge('subgraph_breaker_state', 'Circuit breaker of each subgraph: 0 closed, 1 half-open, 2 open, 3 isolated', ['subgraph']),
    cdnPurges: metrics.counter('cdn_purges_total', 'Purge requests to CDN_PURGE_URL by outcome: sent, retried (an attempt failed), failed (every attempt did), dropped (queue full)', ['outcome']),
    subgraphLatency: metrics.histogram('subgraph_fetch_duration_seconds', 'Router to subgraph fetches by subgraph and outcome', ['subgraph', 'outcome'], LATENCY_BUCKETS),
  };
}

export type RouterMetrics = ReturnType<typeof createRouterMetrics>;
