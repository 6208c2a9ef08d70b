import { subgraphCallsOff, type Scenario, type TargetResult } from '../lib/bench';
import { graphqlRequest, servedWithoutErrors, type ResponseCheck } from '../lib/load';
import { UNLIMITED_ANONYMOUS, ceilingOf, distinctRequests, executed, extraCpuMicrosPerRequest } from './workload';

/**
 * A page of trending memes, each with its template and author, and the
 * author's five latest memes with their templates and authors. A
 * page-sized answer (60 memes) whose cost is subgraph round trips and
 * JSON, as in DESIGN.md's federation benchmark, rather than the router's
 * own pipeline.
 */
export const MEME_PAGE = `query MemePage {
  trending(first: 10) {
    id title topText bottomText score imageUrl
    template { id name }
    author {
      id handle displayName
      memes(first: 5) { edges { node { id title score template { name } author { handle } } } }
    }
  }
}`;
/**
 * The query plan: trending, the authors' memes included, from memes (it
 * resolves `User.memes` itself); then, in parallel, two `_entities`
 * fetches from users: the authors, and the authors of their memes.
 */
const SUBGRAPH_CALLS = 3;

/** Ten memes with template and author, each author with one to five memes of their own, each with template and author. */
const memePage: ResponseCheck = (status, body, headers) => {
  const problem = servedWithoutErrors(status, body, headers);
  if (problem) return problem;
  type Node = { id?: unknown; template?: { name?: unknown } | null; author?: { handle?: unknown } | null };
  type Meme = Node & { author?: { handle?: unknown; memes?: { edges?: Array<{ node?: Node | null }> } | null } | null };
  const trending = (body as { data: { trending?: unknown } }).data.trending;
  if (!Array.isArray(trending) || trending.length !== 10) return 'trending is not a list of 10';
  const whole = (node: Node | null | undefined) =>
    typeof node?.id === 'string' && typeof node.template?.name === 'string' && typeof node.author?.handle === 'string';
  for (const meme of trending as Meme[]) {
    if (!whole(meme)) return 'a meme lacks its id, template name or author handle';
    const edges = meme.author?.memes?.edges;
    if (!Array.isArray(edges) || edges.length < 1 || edges.length > 5) return 'an author does not have 1 to 5 memes';
    if (!edges.every((edge) => whole(edge.node)))
      return "an author's meme lacks its id, template name or author handle";
  }
  return null;
};

export const uncachedCrossSubgraph: Scenario = {
  name: 'uncached-cross-subgraph',
  description:
    'A page-sized nested query across memes and users (3 subgraph fetches, 60 memes) that the response cache cannot answer: ' +
    'the router (a cache miss every time) against plain @apollo/gateway over the same subgraphs, and node:http writing the same bytes.',
  async run(bench) {
    // Every request a miss for the router, as in pipeline-overhead: lookup, execution and write, every time.
    const executedEveryTime = {
      request: distinctRequests(MEME_PAGE),
      check: executed(memePage),
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
      description: 'the Memegraph router, full pipeline on Redis; every request a response-cache miss',
      server: 'router',
      env: bench.routerEnv({
        TIERS_JSON: UNLIMITED_ANONYMOUS,
        // Each request executed in full: concurrent requests differing only in an unread variable must not share fetches.
        SUBGRAPH_DEDUP: 'false',
      }),
      ...executedEveryTime,
    });
    // The ceiling ignores the body; making each one distinct would only slow the load generator down.
    const ceiling = await bench.start(ceilingOf(router, graphqlRequest(MEME_PAGE), memePage));
    const [base, full, top] = (await bench.measure([gateway, router, ceiling])) as [
      TargetResult,
      TargetResult,
      TargetResult,
    ];

    const metrics = {
      answerBytes: router.sample.body.length,
      routerVsGateway: full.load.requestsPerSecond / base.load.requestsPerSecond,
      routerShareOfCeilingPercent: (full.load.requestsPerSecond / top.load.requestsPerSecond) * 100,
      gatewayShareOfCeilingPercent: (base.load.requestsPerSecond / top.load.requestsPerSecond) * 100,
      routerCpuMicrosPerRequest: full.cpuMicrosPerRequest.server,
      gatewayCpuMicrosPerRequest: base.cpuMicrosPerRequest.server,
      extraCpuMicrosPerRequest: extraCpuMicrosPerRequest(full, base),
      routerSubgraphCallsPerRequest: full.subgraphCallsPerRequest,
      gatewaySubgraphCallsPerRequest: base.subgraphCallsPerRequest,
    };
    // Both must have done the same work, the plan's fetches (the router adds entity ids to them, never a fetch), within
    // the tolerance the bench warns by.
    const planned = (calls: number) => subgraphCallsOff(calls, SUBGRAPH_CALLS) === null;
    const sameWork = planned(metrics.routerSubgraphCallsPerRequest) && planned(metrics.gatewaySubgraphCallsPerRequest);
    return {
      baseline: 'gateway',
      targets: [top, base, full],
      metrics,
      summary: [
        `a ${(metrics.answerBytes / 1024).toFixed(1)} KB answer from ${SUBGRAPH_CALLS} subgraph fetches: the router at ${metrics.routerVsGateway.toFixed(2)}× the gateway ` +
          `(router + Redis CPU per request: ${Math.abs(metrics.extraCpuMicrosPerRequest).toFixed(0)} µs ${metrics.extraCpuMicrosPerRequest >= 0 ? 'more' : 'less'} than the gateway's); ` +
          `router ${metrics.routerShareOfCeilingPercent.toFixed(1)}% and gateway ${metrics.gatewayShareOfCeilingPercent.toFixed(1)}% of the ceiling`,
        `subgraph calls per request: router ${metrics.routerSubgraphCallsPerRequest.toFixed(2)}, gateway ${metrics.gatewaySubgraphCallsPerRequest.toFixed(2)}` +
          (sameWork
            ? `: both the plan's ${SUBGRAPH_CALLS}, the same work`
            : ` — NOT both the plan's ${SUBGRAPH_CALLS}: compare with care`),
      ],
    };
  },
};
