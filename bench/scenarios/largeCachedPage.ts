import type { Scenario, TargetResult } from '../lib/bench';
import { graphqlRequest, servedWithoutErrors, type ResponseCheck } from '../lib/load';
import { UNLIMITED_ANONYMOUS, ceilingOf, distinctRequests, executed } from './workload';

/** The largest page the memes subgraph serves (MAX_PAGE_SIZE). */
const PAGE = 100;

const MEME_FIELDS =
  'id title topText bottomText tags score createdAt origin imageUrl author { id handle displayName createdAt tier } template { id name imageUrl }';

/**
 * A home page: a full page of the newest memes and the top trending ones,
 * every public field of each with its author and template. About 70 KB of
 * JSON; cacheable (public, 30 s).
 */
export const LARGE_PAGE =
  `{ memes(first: ${PAGE}) { pageInfo { hasNextPage endCursor } edges { cursor node { ${MEME_FIELDS} } } } ` +
  `trending(first: 30) { ${MEME_FIELDS} } }`;

/** The query plan: one fetch from memes (both lists), then one `_entities` fetch from users for each list's authors. */
const SUBGRAPH_CALLS = 3;

/** At least this much JSON, or the scenario measures something else than a large answer. */
const MIN_BYTES = 60 * 1024;

const fullPage: ResponseCheck = (status, body, headers) => {
  const problem = servedWithoutErrors(status, body, headers);
  if (problem) return problem;
  const edges = (body as { data: { memes?: { edges?: unknown } } }).data.memes?.edges;
  if (!Array.isArray(edges) || edges.length !== PAGE) return `memes is not a page of ${PAGE}`;
  const complete = edges.every((edge: unknown) => {
    const m = (
      edge as { node?: { id?: unknown; author?: { handle?: unknown } | null; template?: { name?: unknown } | null } }
    ).node;
    return typeof m?.id === 'string' && typeof m.author?.handle === 'string' && typeof m.template?.name === 'string';
  });
  if (!complete) return 'a meme lacks its id, author handle or template name';
  const bytes = Buffer.byteLength(JSON.stringify(body));
  return bytes >= MIN_BYTES ? null : `the page is ${bytes} bytes, under ${MIN_BYTES}`;
};

const hit: ResponseCheck = (status, body, headers) =>
  headers.get('x-cache') === 'HIT'
    ? fullPage(status, body, headers)
    : `not a cache hit (x-cache: ${headers.get('x-cache')})`;

/**
 * Anonymous viewers may ask for the page: the tier's per-operation cost is
 * raised with the other limits (a page of 100 memes with their authors and
 * templates costs a few hundred), so nothing is refused.
 */
const ROUTER_ENV = { TIERS_JSON: UNLIMITED_ANONYMOUS };

export const largeCachedPage: Scenario = {
  name: 'large-cached-page',
  description:
    `A large cacheable answer (${PAGE} newest and 30 trending memes with their authors and templates, about 70 KB): the router on cache hits and on misses ` +
    'against plain @apollo/gateway executing the same query, and node:http writing the same bytes (the ceiling).',
  async run(bench) {
    const gateway = await bench.start({
      name: 'gateway',
      description: 'plain @apollo/server + @apollo/gateway executing every request (baseline)',
      server: 'gateway',
      env: bench.routerEnv(),
      request: graphqlRequest(LARGE_PAGE),
      check: fullPage,
      subgraphCallsPerRequest: SUBGRAPH_CALLS,
    });
    // The check's first request fills the cache; every later one, measured ones included, must be a hit.
    const router = await bench.start({
      name: 'router-hit',
      description: 'the Memegraph router, full pipeline on Redis, answering from the response cache',
      server: 'router',
      env: bench.routerEnv(ROUTER_ENV),
      request: graphqlRequest(LARGE_PAGE),
      check: (status, body, headers) =>
        headers.get('x-cache') === 'MISS' ? fullPage(status, body, headers) : hit(status, body, headers),
      subgraphCallsPerRequest: 0,
    });
    // A variable of its own on each request (see distinctRequests): every request a lookup, an execution and a write.
    const miss = await bench.start({
      name: 'router-miss',
      description:
        'the router on the same page, every request a response-cache miss (lookup, execution, write of ~70 KB); identical subgraph fetches in flight are not shared (SUBGRAPH_DEDUP=false), so each miss does all its work',
      server: 'router',
      // The requests differ only in a variable no fetch reads: shared fetches would turn most misses into waits.
      env: bench.routerEnv({ ...ROUTER_ENV, SUBGRAPH_DEDUP: 'false' }),
      request: distinctRequests(LARGE_PAGE),
      check: executed(fullPage),
      subgraphCallsPerRequest: SUBGRAPH_CALLS,
    });
    const ceiling = await bench.start(ceilingOf(router, graphqlRequest(LARGE_PAGE), fullPage));
    const [base, cached, missed, top] = (await bench.measure([gateway, router, miss, ceiling])) as [
      TargetResult,
      TargetResult,
      TargetResult,
      TargetResult,
    ];
    const metrics = {
      answerBytes: router.sample.body.length,
      hitSpeedupOverGateway: cached.load.requestsPerSecond / base.load.requestsPerSecond,
      hitShareOfCeilingPercent: (cached.load.requestsPerSecond / top.load.requestsPerSecond) * 100,
      hitRouterCpuMicrosPerRequest: cached.cpuMicrosPerRequest.server,
      missOverheadPercent: (1 - missed.load.requestsPerSecond / base.load.requestsPerSecond) * 100,
      missRouterCpuMicrosPerRequest: missed.cpuMicrosPerRequest.server,
    };
    return {
      baseline: 'gateway',
      targets: [top, base, cached, missed],
      metrics,
      summary: [
        `a ${(metrics.answerBytes / 1024).toFixed(0)} KB answer; a cache hit: ${metrics.hitSpeedupOverGateway.toFixed(1)}× the gateway executing the query, ` +
          `${metrics.hitShareOfCeilingPercent.toFixed(1)}% of the ceiling, ${metrics.hitRouterCpuMicrosPerRequest.toFixed(0)} µs of router CPU per request`,
        `a miss: ${Math.abs(metrics.missOverheadPercent).toFixed(1)}% ${metrics.missOverheadPercent >= 0 ? 'fewer' : 'more'} ` +
          `requests per second than the gateway, ` +
          `${metrics.missRouterCpuMicrosPerRequest.toFixed(0)} µs of router CPU per request`,
      ],
    };
  },
};
