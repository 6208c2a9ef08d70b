import type { Scenario, TargetResult } from '../lib/bench';
import { graphqlRequest, type ResponseCheck } from '../lib/load';
import {
  TRENDING,
  UNLIMITED_ANONYMOUS,
  ceilingOf,
  distinctRequests,
  executed,
  extraCpuMicrosPerRequest,
  tenTrendingMemes,
} from './workload';
import { startTraced, tracingCost } from './tracing';

/**
 * The same query, but not cacheable: it also asks for `rateLimit { cost }`,
 * which the router answers itself from the viewer's cost bucket, so the
 * answer is never kept and the router skips the response cache (no lookup,
 * no write, no entity tags); no subgraph is asked for it. (A field under
 * `@include(if: false)` no longer does this: a skipped field does not execute,
 * so it does not make the operation uncacheable.) It shows the pipeline
 * without the response cache.
 */
const TRENDING_UNCACHEABLE = TRENDING.replace(/ }$/, ' rateLimit { cost } }');
/**
 * Unlimited anonymous viewers; and identical subgraph fetches in flight are
 * not shared (SUBGRAPH_DEDUP=false): the requests differ only in a variable
 * no fetch reads, so shared fetches would turn most executions into waits
 * on another's, and the scenario would not measure execution.
 */
const ROUTER_ENV = { TIERS_JSON: UNLIMITED_ANONYMOUS, SUBGRAPH_DEDUP: 'false' };
/** The query plan: one fetch from memes, one `_entities` fetch from users. */
const SUBGRAPH_CALLS = 2;

/** The answer did not go through the response cache at all. */
const notCached: ResponseCheck = (status, body, headers) =>
  headers.has('x-cache')
    ? `the response cache took part (x-cache: ${headers.get('x-cache')}): the query is cacheable after all`
    : tenTrendingMemes(status, body, headers);

export const pipelineOverhead: Scenario = {
  name: 'pipeline-overhead',
  description:
    'What Memegraph’s request pipeline costs on a typical anonymous cross-subgraph query, executed every time: ' +
    'the router (and the router with the response cache out of the way) against plain @apollo/gateway over the same subgraphs, ' +
    'and node:http writing the same bytes as the ceiling.',
  async run(bench) {
    const executedEveryTime = {
      request: distinctRequests(TRENDING),
      check: executed(tenTrendingMemes),
      subgraphCallsPerRequest: SUBGRAPH_CALLS,
    };
    const gateway = await bench.start({
      name: 'gateway',
      description: 'plain @apollo/server + @apollo/gateway, anonymous viewer signed, no pipeline (baseline)',
      server: 'gateway',
      env: bench.routerEnv(),
      ...executedEveryTime,
    });
    const router = await bench.start({
      name: 'router',
      description:
        'the Memegraph router, full pipeline on Redis; every request a response-cache miss (lookup, execution, write)',
      server: 'router',
      env: bench.routerEnv(ROUTER_ENV),
      ...executedEveryTime,
    });
    const uncacheable = await bench.start({
      name: 'router-uncacheable',
      description: 'the router on the same query made uncacheable: the pipeline without the response cache',
      server: 'router',
      env: bench.routerEnv(ROUTER_ENV),
      request: distinctRequests(TRENDING_UNCACHEABLE),
      check: notCached,
      subgraphCallsPerRequest: SUBGRAPH_CALLS,
    });
    // The ceiling ignores the body; making each one distinct would only slow the load generator down.
    const ceiling = await bench.start(ceilingOf(router, graphqlRequest(TRENDING), tenTrendingMemes));
    // With --tracing: the router again through the tracing preload, off, at 1% and at 100%.
    const traced = await startTraced(bench, router.spec);
    const [base, full, withoutCache, top, ...tracedResults] = (await bench.measure([
      gateway,
      router,
      uncacheable,
      ceiling,
      ...traced,
    ])) as [TargetResult, TargetResult, TargetResult, TargetResult, ...TargetResult[]];
    const tracing = tracingCost(full, tracedResults);

    const overhead = (target: TargetResult) => (1 - target.load.requestsPerSecond / base.load.requestsPerSecond) * 100;
    const metrics = {
      pipelineOverheadPercent: overhead(full),
      pipelineCpuMicrosPerRequest: extraCpuMicrosPerRequest(full, base),
      uncacheableOverheadPercent: overhead(withoutCache),
      uncacheableCpuMicrosPerRequest: extraCpuMicrosPerRequest(withoutCache, base),
      ...tracing.metrics,
    };
    return {
      baseline: 'gateway',
      targets: [top, base, full, withoutCache, ...tracedResults],
      metrics,
      summary: [
        `pipeline overhead (1 - router/gateway req/s): ${metrics.pipelineOverheadPercent.toFixed(1)}%, ` +
          `${metrics.pipelineCpuMicrosPerRequest.toFixed(0)} µs more CPU per request (router + Redis)`,
        `without the response cache (router-uncacheable): ${metrics.uncacheableOverheadPercent.toFixed(1)}%, ` +
          `${metrics.uncacheableCpuMicrosPerRequest.toFixed(0)} µs more CPU per request`,
        ...tracing.summary,
      ],
    };
  },
};
