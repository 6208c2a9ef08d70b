import type { Scenario, TargetResult } from '../lib/bench';
import { graphqlRequest, type ResponseCheck } from '../lib/load';
import { startTraced, tracingCost } from './tracing';
import { TRENDING, UNLIMITED_ANONYMOUS, ceilingOf, tenTrendingMemes } from './workload';

/** Every measured answer must come from the cache, or the number says nothing about hits. */
const hit: ResponseCheck = (status, body, headers) =>
  headers.get('x-cache') === 'HIT'
    ? tenTrendingMemes(status, body, headers)
    : `not a cache hit (x-cache: ${headers.get('x-cache')})`;

/** The typical anonymous read of pipeline-overhead, asked again and again: what a response-cache hit costs. */
export const hotCachedQuery: Scenario = {
  name: 'hot-cached-query',
  description:
    'A hot query answered from the response cache: the router on cache hits against plain @apollo/gateway executing the same query ' +
    'and node:http writing the same bytes (the ceiling).',
  async run(bench) {
    const request = graphqlRequest(TRENDING);
    const gateway = await bench.start({
      name: 'gateway',
      description: 'plain @apollo/server + @apollo/gateway executing every request (baseline)',
      server: 'gateway',
      env: bench.routerEnv(),
      request,
      check: tenTrendingMemes,
      subgraphCallsPerRequest: 2,
    });
    // The check's first request fills the cache; every later one, measured ones included, must be a hit.
    const router = await bench.start({
      name: 'router-hit',
      description: 'the Memegraph router, full pipeline on Redis, answering from the response cache',
      server: 'router',
      env: bench.routerEnv({ TIERS_JSON: UNLIMITED_ANONYMOUS }),
      request,
      check: (status, body, headers) =>
        headers.get('x-cache') === 'MISS' ? tenTrendingMemes(status, body, headers) : hit(status, body, headers),
      subgraphCallsPerRequest: 0,
    });
    const ceiling = await bench.start(ceilingOf(router, request, tenTrendingMemes));
    // With --tracing: the router again through the tracing preload, off, at 1% and at 100%.
    const traced = await startTraced(bench, router.spec);
    const [base, cached, top, ...tracedResults] = (await bench.measure([gateway, router, ceiling, ...traced])) as [
      TargetResult,
      TargetResult,
      TargetResult,
      ...TargetResult[],
    ];
    const tracing = tracingCost(cached, tracedResults);
    const metrics = {
      hitSpeedupOverGateway: cached.load.requestsPerSecond / base.load.requestsPerSecond,
      hitShareOfCeilingPercent: (cached.load.requestsPerSecond / top.load.requestsPerSecond) * 100,
      hitRouterCpuMicrosPerRequest: cached.cpuMicrosPerRequest.server,
      ...tracing.metrics,
    };
    return {
      baseline: 'gateway',
      targets: [top, base, cached, ...tracedResults],
      metrics,
      summary: [
        `a cache hit: ${metrics.hitSpeedupOverGateway.toFixed(1)}× the gateway executing the query, ` +
          `${metrics.hitShareOfCeilingPercent.toFixed(1)}% of the ceiling, ${metrics.hitRouterCpuMicrosPerRequest.toFixed(0)} µs of router CPU per request`,
        ...tracing.summary,
      ],
    };
  },
};
