import type { Scenario, Target, TargetResult } from '../lib/bench';
import { servedWithoutErrors, sumOf, type HttpRequest, type ResponseCheck } from '../lib/load';
import { seededViewers, userTiersJson } from '../lib/viewers';
import { TRENDING, UNLIMITED_SIGNED_IN, tenTrendingMemes } from './workload';

const MEME =
  'query Meme($id: ID!) { meme(id: $id) { id title topText bottomText score author { handle } template { name } } }';
const VOTE = 'mutation Vote($id: ID!, $value: Int!) { vote(memeId: $id, value: $value) { id score } }';

/** Out of ten requests: this many votes, the rest reads, half of them trending and half a meme by id. */
const VOTES_IN_TEN = 1;
/** The memes people open and vote on: the top of trending. */
const HOT_MEMES = 100;

/** Each kind of answer must be whole: ten trending memes, a meme with author and template, a vote's meme with its score. */
const mixedAnswer: ResponseCheck = (status, body, headers) => {
  const problem = servedWithoutErrors(status, body, headers);
  if (problem) return problem;
  const data = (body as { data: Record<string, unknown> }).data;
  if ('trending' in data) return tenTrendingMemes(status, body, headers);
  if ('meme' in data) {
    const meme = data.meme as {
      id?: unknown;
      author?: { handle?: unknown } | null;
      template?: { name?: unknown } | null;
    } | null;
    return typeof meme?.id === 'string' &&
      typeof meme.author?.handle === 'string' &&
      typeof meme.template?.name === 'string'
      ? null
      : 'a meme lacks its id, author handle or template name';
  }
  if ('vote' in data) {
    const meme = data.vote as { id?: unknown; score?: unknown } | null;
    return typeof meme?.id === 'string' && typeof meme.score === 'number'
      ? null
      : 'a vote answered no meme with a score';
  }
  return `unexpected data: ${JSON.stringify(data).slice(0, 100)}`;
};

/** `response_cache_lookups_total` from the router's /metrics, by layer and result (e.g. `local hit`). */
async function cacheLookups(target: Target): Promise<Record<string, number>> {
  const text = await (await fetch(new URL('/metrics', target.url), { signal: AbortSignal.timeout(5_000) })).text();
  const lookups: Record<string, number> = {};
  for (const [, labels, count] of text.matchAll(/^response_cache_lookups_total\{([^}]*)\} (\d+)$/gm)) {
    const label = (name: string) => new RegExp(`${name}="(\\w+)"`).exec(labels!)?.[1] ?? '?';
    lookups[`${label('layer')} ${label('result')}`] = Number(count);
  }
  return lookups;
}

/** `db_statements_routed_total` of the users and memes subgraphs (their /metrics), by `target/reason`. */
async function routedStatements(urls: { users: string; memes: string }): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const url of [urls.users, urls.memes]) {
    const text = await (await fetch(new URL('/metrics', url), { signal: AbortSignal.timeout(5_000) })).text();
    for (const [, labels, count] of text.matchAll(/^db_statements_routed_total\{([^}]*)\} (\d+)$/gm)) {
      const label = (name: string) => new RegExp(`${name}="([\\w-]+)"`).exec(labels!)?.[1] ?? '?';
      const key = `${label('target')}/${label('reason')}`;
      counts[key] = (counts[key] ?? 0) + Number(count);
    }
  }
  return counts;
}

const percent = (part: number, whole: number) => (whole > 0 ? (part / whole) * 100 : 0);

export const mixedReadWrite: Scenario = {
  name: 'mixed-read-write',
  description:
    'Signed-in viewers of every tier: 90% reads (trending, a hot meme by id), 10% votes on those memes, each purging the cached answers that hold the meme: ' +
    'the router with its response cache against plain @apollo/gateway.',
  async run(bench) {
    const viewers = await seededViewers(bench.platform);
    const hot = (
      await bench.platform.sql.query<{ id: string }>(
        `SELECT id::text AS id FROM memes.memes WHERE origin = 'HUMAN' ORDER BY score DESC, id DESC LIMIT ${HOT_MEMES}`,
      )
    ).map((row) => row.id);
    // Votes go round the viewers in turn, so none nears vote's own limit (@rateLimit 60 a minute per viewer) before all do.
    let sent = 0;
    let reads = 0;
    let votes = 0;
    const lastVote = new Map<string, number>();
    const pick = <T>(items: readonly T[]) => items[Math.floor(Math.random() * items.length)]!;
    const request: HttpRequest = {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: () => {
        if (sent++ % 10 < VOTES_IN_TEN) {
          const viewer = viewers[votes++ % viewers.length]!;
          const id = pick(hot);
          // Up, then down, then up: every vote changes the score, as a real one would.
          const key = `${viewer.userId}:${id}`;
          const value = lastVote.get(key) === 1 ? -1 : 1;
          lastVote.set(key, value);
          return {
            headers: { authorization: viewer.authorization },
            body: JSON.stringify({ query: VOTE, variables: { id, value } }),
          };
        }
        const viewer = viewers[reads % viewers.length]!;
        const body = reads++ % 2 === 0 ? { query: TRENDING } : { query: MEME, variables: { id: pick(hot) } };
        return { headers: { authorization: viewer.authorization }, body: JSON.stringify(body) };
      },
    };
    const everyAnswerChecked = { request, check: mixedAnswer, checkUnderLoad: true };
    const gateway = await bench.start({
      name: 'gateway',
      description:
        'plain @apollo/server + @apollo/gateway, each viewer signed as the token names them, no pipeline, no cache (baseline)',
      server: 'gateway',
      env: bench.routerEnv({ BENCH_USER_TIERS_JSON: userTiersJson(viewers) }),
      ...everyAnswerChecked,
    });
    const router = await bench.start({
      name: 'router',
      description: 'the Memegraph router, full pipeline and response cache on Redis, votes purging by entity tag',
      server: 'router',
      env: bench.routerEnv({ TIERS_JSON: UNLIMITED_SIGNED_IN }),
      ...everyAnswerChecked,
    });
    // With `--replica`: the same router again, its subgraphs reading from one streaming replica.
    const onReplica = await bench.platform.replica?.startSubgraphs();
    const routerOnReplica =
      onReplica &&
      (await bench.start({
        name: 'router-replica',
        description: 'the router as above (its own cache), its subgraphs reading from one streaming replica',
        server: 'router',
        subgraphs: onReplica.process,
        env: bench.routerEnv({
          TIERS_JSON: UNLIMITED_SIGNED_IN,
          SUBGRAPH_URL_USERS: onReplica.urls.users,
          SUBGRAPH_URL_MEMES: onReplica.urls.memes,
          SUBGRAPH_URL_AI: onReplica.urls.ai,
          REDIS_PREFIX: `${bench.platform.redisPrefix}replica:`,
        }),
        ...everyAnswerChecked,
      }));
    const [base, cached, replicated] = (await bench.measure(
      routerOnReplica ? [gateway, router, routerOnReplica] : [gateway, router],
      {
        probe: (target) =>
          target === routerOnReplica
            ? routedStatements(onReplica!.urls)
            : target === router
              ? cacheLookups(target)
              : Promise.resolve({}),
      },
    )) as [TargetResult, TargetResult, TargetResult | undefined];

    const lookups = cached.probes;
    const all = sumOf(lookups);
    const hits = (lookups['local hit'] ?? 0) + (lookups['redis hit'] ?? 0);
    const voteRate = (target: TargetResult) => (target.load.requestsPerSecond * VOTES_IN_TEN) / 10;
    const metrics = {
      routerVsGateway: cached.load.requestsPerSecond / base.load.requestsPerSecond,
      cacheLookups: all,
      cacheHitPercent: percent(hits, all),
      localHitPercent: percent(lookups['local hit'] ?? 0, all),
      redisHitPercent: percent(lookups['redis hit'] ?? 0, all),
      routerVotesPerSecond: voteRate(cached),
      gatewayVotesPerSecond: voteRate(base),
      routerCpuMicrosPerRequest: cached.cpuMicrosPerRequest.server,
      routerSubgraphCallsPerRequest: cached.subgraphCallsPerRequest,
      gatewaySubgraphCallsPerRequest: base.subgraphCallsPerRequest,
    };
    const replicaMetrics = replicated && {
      replicaRouterRequestsPerSecond: replicated.load.requestsPerSecond,
      routerRequestsPerSecond: cached.load.requestsPerSecond,
      primaryPostgresCpuMicrosPerRequestAlone: cached.cpuMicrosPerRequest.postgres,
      primaryPostgresCpuMicrosPerRequestWithReplica: replicated.cpuMicrosPerRequest.postgres,
      replicaReads: replicated.probes['replica/replica'] ?? 0,
      primaryReads: sumOf(
        Object.fromEntries(
          Object.entries(replicated.probes).filter(([key]) => key.startsWith('primary/') && key !== 'primary/write'),
        ),
      ),
      primaryWrites: replicated.probes['primary/write'] ?? 0,
    };
    return {
      baseline: 'gateway',
      targets: replicated ? [base, cached, replicated] : [base, cached],
      metrics: { ...metrics, ...replicaMetrics },
      summary: [
        `${viewers.length} signed-in viewers (${['free', 'premium', 'enterprise'].map((tier) => `${viewers.filter((v) => v.tier === tier).length} ${tier}`).join(', ')}), ` +
          `${HOT_MEMES} hot memes; every answer checked`,
        `router: ${metrics.routerVsGateway.toFixed(2)}× the gateway, about ${metrics.routerVotesPerSecond.toFixed(0)} votes/s purging the answers that hold their meme`,
        `router response cache (its /metrics, response_cache_lookups_total, while measuring): ${metrics.cacheHitPercent.toFixed(1)}% hits of ${all} lookups ` +
          `(in-process ${metrics.localHitPercent.toFixed(1)}%, Redis ${metrics.redisHitPercent.toFixed(1)}%); ` +
          `subgraph calls per request: router ${metrics.routerSubgraphCallsPerRequest.toFixed(2)}, gateway ${metrics.gatewaySubgraphCallsPerRequest.toFixed(2)}`,
        ...(replicaMetrics
          ? [
              `one replica (--replica): ${replicaMetrics.replicaRouterRequestsPerSecond.toFixed(0)} req/s against ${replicaMetrics.routerRequestsPerSecond.toFixed(0)} on the primary alone; ` +
                `primary PostgreSQL CPU per request ${replicaMetrics.primaryPostgresCpuMicrosPerRequestWithReplica.toFixed(0)} µs against ${replicaMetrics.primaryPostgresCpuMicrosPerRequestAlone.toFixed(0)} µs; ` +
                `statements while measuring: ${replicaMetrics.replicaReads} reads on the replica, ${replicaMetrics.primaryReads} reads and ${replicaMetrics.primaryWrites} writes on the primary`,
            ]
          : []),
      ],
    };
  },
};
