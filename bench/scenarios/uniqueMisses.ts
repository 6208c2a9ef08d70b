import { encodeCursor } from '@memegraph/service-kit';
import { subgraphCallsOff, type Scenario, type Target, type TargetResult } from '../lib/bench';
import { graphqlRequest, servedWithoutErrors, sumOf, type HttpRequest, type ResponseCheck } from '../lib/load';
import { UNLIMITED_ANONYMOUS, ceilingOf, executed, extraCpuMicrosPerRequest } from './workload';

/**
 * A page of memes at a cursor, each with its author's handle (users) and
 * template's name (memes). The plan: one `memes` fetch from memes, then one
 * `_entities` fetch from users for the page's authors.
 */
const MEME_PAGE_AT = `query MemePageAt($first: Int!, $after: String!) {
  memes(first: $first, after: $after) { edges { node { id title score author { handle } template { name } } } }
}`;
const SUBGRAPH_CALLS = 2;
/** Page sizes asked, in turn: every one well under the subgraph's MAX_PAGE_SIZE (100). */
const FIRST_MIN = 5;
const FIRST_MAX = 24;
/** Pages start at least this many visible memes above the oldest, so every page asked for is full. */
const ROOM_BELOW = FIRST_MAX;

interface PageNode {
  id?: unknown;
  title?: unknown;
  author?: { handle?: unknown } | null;
  template?: { name?: unknown } | null;
}

/** The page's nodes when it is complete (a full page of FIRST_MIN..FIRST_MAX memes, newest first, each with title, author handle and template name), else why not. */
function pageNodes(status: number, body: unknown, headers: Parameters<ResponseCheck>[2]): PageNode[] | string {
  const problem = servedWithoutErrors(status, body, headers);
  if (problem) return problem;
  const edges = (body as { data: { memes?: { edges?: unknown } | null } }).data.memes?.edges;
  if (!Array.isArray(edges)) return `memes has no edges: ${JSON.stringify(body).slice(0, 200)}`;
  if (edges.length < FIRST_MIN || edges.length > FIRST_MAX) {
    const first = (edges[0] as { node?: { id?: unknown } } | undefined)?.node?.id;
    return `not a page of ${FIRST_MIN} to ${FIRST_MAX} memes: ${edges.length}, from meme ${JSON.stringify(first)}`;
  }
  const nodes = edges.map((edge: { node?: PageNode | null }) => edge.node ?? {});
  const complete = nodes.every(
    (node) =>
      typeof node.id === 'string' &&
      typeof node.title === 'string' &&
      typeof node.author?.handle === 'string' &&
      typeof node.template?.name === 'string',
  );
  if (!complete) return 'a meme lacks its id, title, author handle or template name';
  const ids = nodes.map((node) => Number(node.id));
  if (!ids.every((id, i) => Number.isInteger(id) && (i === 0 || id < ids[i - 1]!)))
    return 'the page is not newest first';
  return nodes;
}

const completePage: ResponseCheck = (status, body, headers) => {
  const nodes = pageNodes(status, body, headers);
  return typeof nodes === 'string' ? nodes : null;
};

/**
 * A complete page that no earlier answer of this target was: the first
 * meme and the page's length tell pages apart, since every request starts
 * right below a distinct visible meme (see uniquePages). One set per target.
 */
function completeAndDistinct(): ResponseCheck {
  const seen = new Set<string>();
  return (status, body, headers) => {
    const nodes = pageNodes(status, body, headers);
    if (typeof nodes === 'string') return nodes;
    const page = `${String(nodes[0]!.id)}:${nodes.length}`;
    if (seen.has(page))
      return 'an answer repeated an earlier one: the run asked for more pages than there are distinct ones';
    seen.add(page);
    return null;
  };
}

/**
 * Requests that each ask for a page no other request of the same sequence
 * asks for: `after` walks the visible memes' cursors (so each page starts at
 * a distinct meme), and the page size steps from FIRST_MIN to FIRST_MAX
 * once per walk. Both subgraph fetches then differ per request: the memes
 * fetch by its arguments, the users fetch by the page's list of authors (in
 * flight together, two requests' lists of 5+ authors never coincide), so
 * neither a cache keyed on the answer nor shared fetches can answer one.
 */
function uniquePages(visibleIds: readonly string[]): { request: HttpRequest; distinct: number } {
  const cursors = visibleIds.map((id) => encodeCursor('meme', id));
  const sizes = FIRST_MAX - FIRST_MIN + 1;
  let sequence = 0;
  const request = graphqlRequest(MEME_PAGE_AT, () => {
    const n = sequence++;
    return { first: FIRST_MIN + (Math.floor(n / cursors.length) % sizes), after: cursors[n % cursors.length]! };
  });
  return { request, distinct: cursors.length * sizes };
}

/** From the router's /metrics: fetches shared with an identical one in flight, and response-cache lookups by result. */
async function routerCounters(target: Target): Promise<Record<string, number>> {
  const url = new URL('/metrics', target.url);
  const text = await fetch(url, { signal: AbortSignal.timeout(5_000) }).then(
    (response) => response.text(),
    (error: unknown) => {
      throw new Error(
        `reading ${url.href}: ${error instanceof Error ? `${error.message} (${String(error.cause)})` : String(error)}`,
      );
    },
  );
  const sum = (pattern: RegExp, label?: RegExp) => {
    const counts: Record<string, number> = {};
    for (const [, labels, count] of text.matchAll(pattern)) {
      const key = label ? (label.exec(labels ?? '')?.[1] ?? '?') : 'all';
      counts[key] = (counts[key] ?? 0) + Number(count);
    }
    return counts;
  };
  const lookups = sum(/^response_cache_lookups_total\{([^}]*)\} (\d+)$/gm, /result="(\w+)"/);
  return {
    sharedFetches: sumOf(sum(/^subgraph_fetches_shared_total\{([^}]*)\} (\d+)$/gm)),
    cacheHits: lookups['hit'] ?? 0,
    cacheLookups: sumOf(lookups),
  };
}

export const uniqueMisses: Scenario = {
  name: 'unique-misses',
  description:
    'True misses: anonymous pages of memes with their authors and templates, each request a page (cursor and size) no other asks for, ' +
    'so neither the response cache nor shared subgraph fetches can answer it: the router as configured by default (SUBGRAPH_DEDUP on) ' +
    'against plain @apollo/gateway over the same subgraphs, and node:http writing the same bytes.',
  async run(bench) {
    // Anonymous viewers see the human memes only. Newest first by the number (the text would order 1022 below 102).
    const visible = (
      await bench.platform.sql.query<{ id: string }>(
        `SELECT m.id::text AS id FROM memes.memes m WHERE m.origin = 'HUMAN' ORDER BY m.id DESC`,
      )
    ).map((row) => row.id);
    // `after` is the cursor of the meme above the page: the page then starts at the next visible one below it.
    const afterIds = visible.slice(0, Math.max(0, visible.length - ROOM_BELOW));
    if (afterIds.length < 100) throw new Error(`unique-misses needs a seeded catalog: ${visible.length} visible memes`);

    const target = (name: string, description: string, server: 'gateway' | 'router', env: Record<string, string>) => {
      const { request, distinct } = uniquePages(afterIds);
      return bench.start({
        name,
        description: `${description} (${distinct.toLocaleString('en')} distinct pages)`,
        server,
        env,
        request,
        check: executed(completeAndDistinct()),
        subgraphCallsPerRequest: SUBGRAPH_CALLS,
        // Every answer checked: complete, and not one this target answered before.
        checkUnderLoad: true,
      });
    };
    const gateway = await target(
      'gateway',
      'plain @apollo/server + @apollo/gateway, anonymous viewer signed, no pipeline (baseline)',
      'gateway',
      bench.routerEnv(),
    );
    // The router's defaults, SUBGRAPH_DEDUP on: with every fetch distinct it has nothing to share, which is the point.
    const router = await target(
      'router',
      'the Memegraph router, full pipeline on Redis, default settings; every request a distinct page',
      'router',
      bench.routerEnv({ TIERS_JSON: UNLIMITED_ANONYMOUS }),
    );
    // The ceiling ignores the body; one fixed request is enough.
    const ceiling = await bench.start(
      ceilingOf(
        router,
        graphqlRequest(MEME_PAGE_AT, { first: 10, after: encodeCursor('meme', afterIds[0]!) }),
        completePage,
      ),
    );
    const [base, full, top] = (await bench.measure([gateway, router, ceiling], {
      probe: (measured) => (measured === router ? routerCounters(measured) : Promise.resolve({})),
    })) as [TargetResult, TargetResult, TargetResult];

    const routerRequests = full.load.requests;
    const metrics = {
      routerVsGateway: full.load.requestsPerSecond / base.load.requestsPerSecond,
      routerShareOfCeilingPercent: (full.load.requestsPerSecond / top.load.requestsPerSecond) * 100,
      gatewayShareOfCeilingPercent: (base.load.requestsPerSecond / top.load.requestsPerSecond) * 100,
      routerCpuMicrosPerRequest: full.cpuMicrosPerRequest.server,
      gatewayCpuMicrosPerRequest: base.cpuMicrosPerRequest.server,
      extraCpuMicrosPerRequest: extraCpuMicrosPerRequest(full, base),
      routerSubgraphCallsPerRequest: full.subgraphCallsPerRequest,
      gatewaySubgraphCallsPerRequest: base.subgraphCallsPerRequest,
      routerSharedFetchesPerRequest: routerRequests > 0 ? (full.probes['sharedFetches'] ?? 0) / routerRequests : 0,
      routerCacheHits: full.probes['cacheHits'] ?? 0,
      routerCacheLookups: full.probes['cacheLookups'] ?? 0,
    };
    const planned = (calls: number) => subgraphCallsOff(calls, SUBGRAPH_CALLS) === null;
    const calls = (result: TargetResult) =>
      `${result.subgraphCallsPerRequest.toFixed(2)} subgraph calls per request at ${result.load.requestsPerSecond.toFixed(0)} req/s`;
    return {
      baseline: 'gateway',
      targets: [top, base, full],
      metrics,
      summary: [
        `every answer a distinct page (${FIRST_MIN}–${FIRST_MAX} memes, ${SUBGRAPH_CALLS} fetches in the plan): the router at ${metrics.routerVsGateway.toFixed(2)}× the gateway ` +
          `(router + Redis CPU per request: ${Math.abs(metrics.extraCpuMicrosPerRequest).toFixed(0)} µs ${metrics.extraCpuMicrosPerRequest >= 0 ? 'more' : 'less'} than the gateway's); ` +
          `router ${metrics.routerShareOfCeilingPercent.toFixed(1)}% and gateway ${metrics.gatewayShareOfCeilingPercent.toFixed(1)}% of the ceiling`,
        `router ${calls(full)}, gateway ${calls(base)}` +
          (planned(metrics.routerSubgraphCallsPerRequest) && planned(metrics.gatewaySubgraphCallsPerRequest)
            ? `: both the plan's ${SUBGRAPH_CALLS}, the same work`
            : ` — NOT both the plan's ${SUBGRAPH_CALLS}: fewer for the router means a cache or shared fetch answered part of a page`),
        `router: ${metrics.routerSharedFetchesPerRequest.toFixed(3)} fetches per request shared with one in flight (SUBGRAPH_DEDUP), ` +
          `${metrics.routerCacheHits} response-cache hits in ${metrics.routerCacheLookups} lookups`,
      ],
    };
  },
};
