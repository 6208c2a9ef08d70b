import { randomBytes } from 'node:crypto';
import type { Bench, Scenario, Target, TargetResult } from '../lib/bench';
import type { LoadSlice, RejectionCheck, ResponseCheck } from '../lib/load';
import type { Queryable } from '@memegraph/service-kit';
import { changePlans, seededViewers, userTiersJson, type BenchViewer } from '../lib/viewers';

const GENERATE =
  'mutation Generate($input: GenerateMemeInput!) { generateMeme(input: $input) { id status queuePosition } }';

/** Viewers of one burst: fresh ones each time, so no burst inherits another's generations-per-minute count. */
const BURST_VIEWERS = 10;
/** Of which enterprise (the rest premium): they run first in the queue and may start five times as many a minute. */
const BURST_ENTERPRISE = 1;
/** Refusals a burst is expected to meet: the queue's waiting line, the tier's generations a minute, the cost bucket. */
const EXPECTED_REJECTIONS = new Set(['QUEUE_OVERLOADED', 'RATE_LIMIT_EXCEEDED', 'THROTTLED']);
const POLL_MS = 200;
const DRAIN_TIMEOUT_MS = 180_000;

/** One burst: what was accepted, and how its generations ended. */
interface BurstRecord {
  target: string;
  accepted: number;
  succeeded: number;
  failed: number;
  /** From the first accepted generation's creation to the last one's finish, in the ai database. */
  allDoneSeconds: number;
  /** From the end of the burst's load until every generation had finished, as the bench saw it. */
  drainSeconds: number;
  meanWaitSeconds: number;
  meanRunSeconds: number;
  /** Most generations seen waiting at once (sampled every POLL_MS during the burst). */
  peakQueued: number;
}

/** Answered with a Generation: the request was accepted. */
const acceptedGeneration =
  (accepted: Set<string>): ResponseCheck =>
  (status, body) => {
    if (status !== 200) return `HTTP ${status}`;
    const result = body as
      { data?: { generateMeme?: { id?: unknown; status?: unknown } | null } | null; errors?: unknown } | undefined;
    if (result?.errors) return `errors: ${JSON.stringify(result.errors).slice(0, 300)}`;
    const generation = result?.data?.generateMeme;
    if (typeof generation?.id !== 'string') return 'no generation';
    // Unique prompts: nothing is answered from the result cache, so every accepted generation waits for a worker.
    if (generation.status !== 'QUEUED') return `a new generation came back ${String(generation.status)}, not QUEUED`;
    accepted.add(generation.id);
    return null;
  };

/** No data, and every error one of the expected refusals: its code. */
const expectedRejection: RejectionCheck = (_status, body) => {
  const result = body as
    { data?: { generateMeme?: unknown } | null; errors?: Array<{ extensions?: { code?: unknown } }> } | undefined;
  if (!result?.errors?.length || result.data?.generateMeme) return null;
  const codes = result.errors.map((e) => e.extensions?.code);
  return codes.every((code): code is string => typeof code === 'string' && EXPECTED_REJECTIONS.has(code))
    ? codes[0]!
    : null;
};

/** Waits until no generation is QUEUED or RUNNING. */
async function generationsDone(sql: Queryable): Promise<void> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  for (;;) {
    const [row] = await sql.query<{ open: string }>(
      `SELECT count(*) AS open FROM ai.generations WHERE status IN ('QUEUED', 'RUNNING')`,
    );
    const open = Number(row?.open ?? 0);
    if (open === 0) return;
    if (Date.now() > deadline)
      throw new Error(`${open} generations still unfinished after ${DRAIN_TIMEOUT_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Samples how many generations wait, until `until` settles; resolves to the most seen at once. */
async function peakQueued(sql: Queryable, until: Promise<unknown>): Promise<number> {
  let done = false;
  // Only the end matters here; a failure of `until` reaches whoever awaits it.
  void until.then(
    () => (done = true),
    () => (done = true),
  );
  let peak = 0;
  while (!done) {
    const [row] = await sql.query<{ queued: string }>(
      `SELECT count(*) AS queued FROM ai.generations WHERE status = 'QUEUED'`,
    );
    peak = Math.max(peak, Number(row?.queued ?? 0));
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return peak;
}

/** What the ai database recorded about a burst's accepted generations. */
async function burstOutcome(sql: Queryable, ids: readonly string[]) {
  const [row] = await sql.query<{
    succeeded: string;
    failed: string;
    codes: string[] | null;
    all_done: number | null;
    wait: number | null;
    run: number | null;
  }>(
    `SELECT count(*) FILTER (WHERE status = 'SUCCEEDED') AS succeeded,
            count(*) FILTER (WHERE status = 'FAILED') AS failed,
            array_agg(DISTINCT error_code) FILTER (WHERE status = 'FAILED') AS codes,
            extract(epoch FROM max(finished_at) - min(created_at))::float AS all_done,
            avg(extract(epoch FROM started_at - created_at))::float AS wait,
            avg(extract(epoch FROM finished_at - started_at))::float AS run
     FROM ai.generations WHERE id = ANY($1::bigint[])`,
    [ids],
  );
  return {
    succeeded: Number(row?.succeeded ?? 0),
    failed: Number(row?.failed ?? 0),
    failedCodes: row?.codes ?? [],
    allDoneSeconds: row?.all_done ?? 0,
    meanWaitSeconds: row?.wait ?? 0,
    meanRunSeconds: row?.run ?? 0,
  };
}

/** Free seeded users put on paid plans for the bursts, `BURST_VIEWERS` a burst, the enterprise ones first. */
async function burstViewers(bench: Bench, free: readonly BenchViewer[], bursts: number): Promise<BenchViewer[][]> {
  if (free.length < bursts * BURST_VIEWERS) {
    throw new Error(
      `ai-burst needs ${bursts * BURST_VIEWERS} free users for ${bursts} bursts of ${BURST_VIEWERS} viewers; the seed has ${free.length}: use fewer --rounds`,
    );
  }
  const paid = await changePlans(bench, free.slice(0, bursts * BURST_VIEWERS), (i) =>
    i % BURST_VIEWERS < BURST_ENTERPRISE ? 'enterprise' : 'premium',
  );
  return Array.from({ length: bursts }, (_, i) => paid.slice(i * BURST_VIEWERS, (i + 1) * BURST_VIEWERS));
}

const mean = (values: readonly number[]) => (values.length ? values.reduce((sum, v) => sum + v, 0) / values.length : 0);

export const aiBurst: Scenario = {
  name: 'ai-burst',
  description:
    'Bursts of generateMeme from premium and enterprise viewers (unique prompts, the offline local provider) into the BullMQ queue, run by the AI worker process: ' +
    'accepted per second, expected refusals, and the time until every accepted generation has SUCCEEDED; the router against plain @apollo/gateway.',
  async run(bench) {
    const { settings, platform } = bench;
    const seeded = await seededViewers(platform);
    // Checks before and after measuring: enterprise viewers (500 a minute), used for nothing else.
    const checkers = seeded.filter((v) => v.tier === 'enterprise');
    // Warm-up load: the seeded premium viewers.
    const warmers = seeded.filter((v) => v.tier === 'premium');
    // A burst per target (gateway, router) and round.
    const pools = await burstViewers(
      bench,
      seeded.filter((v) => v.tier === 'free'),
      2 * settings.rounds,
    );
    const everyone = [...seeded.filter((v) => v.tier !== 'free'), ...pools.flat()];
    const run = randomBytes(4).toString('hex');
    let sequence = 0;
    let viewers = checkers;
    const accepted = new Set<string>();
    const request = {
      method: 'POST' as const,
      headers: { 'content-type': 'application/json' },
      body: () => {
        const n = sequence++;
        const viewer = viewers[n % viewers.length]!;
        // A prompt of its own: the result cache (same prompt and template in the last ten minutes) cannot answer it.
        const prompt = `when bench run ${run} asks for meme number ${n}`;
        return {
          headers: { authorization: viewer.authorization },
          body: JSON.stringify({ query: GENERATE, variables: { input: { prompt } } }),
        };
      },
    };
    const spec = { request, check: acceptedGeneration(accepted), checkUnderLoad: true, expectedRejection };
    const gateway = await bench.start({
      name: 'gateway',
      description:
        'plain @apollo/server + @apollo/gateway, each viewer signed as the token names them, no pipeline (baseline)',
      server: 'gateway',
      env: bench.routerEnv({ BENCH_USER_TIERS_JSON: userTiersJson(everyone) }),
      ...spec,
    });
    const router = await bench.start({
      name: 'router',
      description: 'the Memegraph router, full pipeline on Redis, tiers at their defaults',
      server: 'router',
      env: bench.routerEnv(),
      ...spec,
    });
    await generationsDone(platform.sql);

    const bursts: BurstRecord[] = [];
    let nextPool = 0;
    const results = (await bench.measure([gateway, router], {
      async warmUp(target, seconds) {
        viewers = warmers;
        await bench.load(target, seconds);
        viewers = checkers;
        await generationsDone(platform.sql);
        accepted.clear();
      },
      async slice(target: Target, seconds: number): Promise<LoadSlice> {
        viewers = pools[nextPool++]!;
        accepted.clear();
        const load = bench.load(target, seconds);
        const [slice, queued] = await Promise.all([load, peakQueued(platform.sql, load)]);
        viewers = checkers;
        const loadEnded = performance.now();
        const ids = [...accepted];
        // Requests the end of the load cut off may still become generations: they finish inside this slice too.
        await bench.idle(target);
        await generationsDone(platform.sql);
        const drainSeconds = (performance.now() - loadEnded) / 1000;
        const outcome = await burstOutcome(platform.sql, ids);
        bursts.push({ target: target.spec.name, accepted: ids.length, drainSeconds, peakQueued: queued, ...outcome });
        // A generation that failed, or that the ai database does not know, is a wrong answer found late.
        const problems = slice.checked?.problems;
        if (problems && outcome.failed > 0) {
          const reason = `generations FAILED (${outcome.failedCodes.join(', ')})`;
          problems[reason] = (problems[reason] ?? 0) + outcome.failed;
        }
        const missing = ids.length - outcome.succeeded - outcome.failed;
        if (problems && missing > 0) problems['accepted generations missing from the ai database'] = missing;
        return slice;
      },
    })) as [TargetResult, TargetResult];
    // Nothing left in the queue: the checks' generations too.
    await generationsDone(platform.sql);

    const metrics: Record<string, number> = {};
    const summary: string[] = [
      `${BURST_VIEWERS} fresh viewers a burst (${BURST_ENTERPRISE} enterprise, ${BURST_VIEWERS - BURST_ENTERPRISE} premium), ` +
        `${settings.rounds} bursts of ${(settings.seconds / settings.rounds).toFixed(1)}s per target, ${settings.connections} connections; every answer checked`,
    ];
    for (const result of results) {
      const own = bursts.filter((b) => b.target === result.name);
      const acceptedCount = own.reduce((sum, b) => sum + b.accepted, 0);
      const rejections = result.rejections ?? {};
      const served = result.load.checked?.servedLatencyMs;
      const workerMicrosPerGeneration = acceptedCount
        ? (result.cpuMicrosPerRequest.aiWorker * result.load.requests) / acceptedCount
        : 0;
      const figures = {
        acceptedPerSecond: acceptedCount / result.load.seconds,
        accepted: acceptedCount,
        acceptedP50Ms: served?.p50 ?? 0,
        acceptedP99Ms: served?.p99 ?? 0,
        meanAllDoneSeconds: mean(own.map((b) => b.allDoneSeconds)),
        maxAllDoneSeconds: Math.max(0, ...own.map((b) => b.allDoneSeconds)),
        meanDrainSeconds: mean(own.map((b) => b.drainSeconds)),
        generationsPerSecond:
          acceptedCount /
          Math.max(
            1e-9,
            own.reduce((sum, b) => sum + b.allDoneSeconds, 0),
          ),
        meanQueueWaitSeconds: mean(own.map((b) => b.meanWaitSeconds)),
        meanRunSeconds: mean(own.map((b) => b.meanRunSeconds)),
        peakQueued: Math.max(0, ...own.map((b) => b.peakQueued)),
        workerMicrosPerGeneration,
      };
      for (const [name, value] of Object.entries(figures)) metrics[`${result.name}.${name}`] = value;
      for (const [code, count] of Object.entries(rejections)) metrics[`${result.name}.rejected.${code}`] = count;
      const refused =
        Object.entries(rejections)
          .map(([code, count]) => `${count} ${code}`)
          .join(', ') || 'none';
      summary.push(
        `${result.name}: ${figures.accepted} accepted (${figures.acceptedPerSecond.toFixed(0)}/s, answered in p50 ${figures.acceptedP50Ms.toFixed(0)} ms, p99 ${figures.acceptedP99Ms.toFixed(0)} ms); ` +
          `refused as expected: ${refused}; at most ${figures.peakQueued} waiting; every accepted one SUCCEEDED ${figures.meanAllDoneSeconds.toFixed(1)} s (max ${figures.maxAllDoneSeconds.toFixed(1)} s) ` +
          `after its burst's first was accepted, ${figures.meanDrainSeconds.toFixed(1)} s after the burst ended; ` +
          `${figures.generationsPerSecond.toFixed(0)} generations/s end to end, ${(figures.workerMicrosPerGeneration / 1000).toFixed(2)} ms of worker CPU each`,
      );
    }
    // Leave the platform as seeded for the scenarios after this one: the bursts' viewers back on free.
    await changePlans(bench, pools.flat(), () => 'free');
    return { baseline: 'gateway', targets: results, metrics, summary };
  },
};
