/**
 * `npm run bench [-- --duration 10 --connections 50 --warmup 3 --scenario <name>[,<name>…]]`
 *
 * Starts a fresh platform (database, subgraphs, Redis prefix), runs the
 * scenarios one after another, prints a table per scenario, writes every
 * number to `bench/results/<timestamp>.json`, and removes what it made.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Bench, type BenchSettings, type ScenarioResult } from './lib/bench';
import { startPlatform, type Platform } from './lib/platform';
import { killAll, runServersFromBuild, serverFile, startProcess } from './lib/process';
import { startPrivateRedis } from './lib/redisServer';
import { formatScenario } from './lib/report';
import { SCENARIOS } from './scenarios/index';

/** The rows `npm start` seeds: the catalog a scenario reads from. */
const SEED = { users: 200, memes: 2_000 };

const USAGE = `Usage: npm run bench -- [options]
  --duration <s>      measured seconds per target (default 10)
  --rounds <n>        measure the targets in turns, n slices each (default 4)
  --connections <n>   concurrent connections (default 50)
  --warmup <s>        load before measuring each target (default 3; the first target of a run gets 5 more,
                      as it warms the subgraphs and PostgreSQL for all)
  --scenario <names>  run these scenarios (comma-separated, in the usual order): ${SCENARIOS.map((s) => s.name).join(', ')}
  --profile           write V8 CPU profiles of each server under test to bench/results/<timestamp>-profiles/<target>/
  --profile-subgraphs write V8 CPU profiles of the subgraphs processes (their whole life: seeding, checks, warm-up and
                      every target's load) to bench/results/<timestamp>-profiles/subgraphs/
  --tracing           also measure the router through the tracing preload, with tracing off, at 1% and at 100%
                      sampling (pipeline-overhead, hot-cached-query), spans sent to an OTLP/HTTP sink of the bench's own
  --replica           run on a PostgreSQL primary and one streaming replica of the bench's own (free ports; the
                      PostgreSQL binaries of the machine) instead of the shared server; mixed-read-write then also
                      measures the router with its subgraphs reading from the replica, and the primary's CPU per request
  --sources           run the servers from the TypeScript sources through tsx, as npm run dev does; without it
                      (the default) from the build (npm run bench builds first), with node alone, as in production
Environment: TEST_DATABASE_URL (an admin connection; default postgres://postgres@127.0.0.1:5432/postgres),
             BENCH_REDIS_URL (default: a redis-server of the run's own on a free port, so that the Redis CPU reported
             is the platform's alone; redis://127.0.0.1:6379 when the machine has no redis-server)`;

function readOptions() {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' },
      rounds: { type: 'string', default: '4' },
      connections: { type: 'string', default: '50' },
      warmup: { type: 'string', default: '3' },
      scenario: { type: 'string' },
      profile: { type: 'boolean', default: false },
      'profile-subgraphs': { type: 'boolean', default: false },
      sources: { type: 'boolean', default: false },
      tracing: { type: 'boolean', default: false },
      replica: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const number = (name: string, raw: string, min: number) => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min)
      throw new Error(`--${name} must be a whole number of at least ${min}, not ${raw}\n\n${USAGE}`);
    return value;
  };
  const settings: BenchSettings = {
    seconds: number('duration', values.duration, 1),
    rounds: number('rounds', values.rounds, 1),
    connections: number('connections', values.connections, 1),
    warmupSeconds: number('warmup', values.warmup, 0),
    platformWarmupSeconds: 5,
    validationRequests: 20,
    ...(values.profile ? { profileDir: fileURLToPath(new URL(`results/${RUN_ID}-profiles/`, import.meta.url)) } : {}),
  };
  const names = values.scenario?.split(',').map((name) => name.trim());
  const unknown = names?.filter((name) => !SCENARIOS.some((s) => s.name === name)) ?? [];
  if (unknown.length) throw new Error(`No scenario named ${unknown.join(', ')}\n\n${USAGE}`);
  const scenarios = names ? SCENARIOS.filter((s) => names.includes(s.name)) : SCENARIOS;
  return {
    settings,
    scenarios,
    build: !values.sources,
    tracing: values.tracing,
    replica: values.replica,
    ...(values['profile-subgraphs'] && {
      subgraphsProfileDir: fileURLToPath(new URL(`results/${RUN_ID}-profiles/`, import.meta.url)),
    }),
    redisUrl: process.env.BENCH_REDIS_URL,
  };
}

/** The run's timestamp, in file names (no colons, for every file system). */
const RUN_ID = new Date().toISOString().replace(/:/g, '-');

const say = (line: string) => process.stdout.write(`${line}\n`);

const machine = () => ({
  cpus: os.availableParallelism(),
  cpuModel: os.cpus()[0]?.model ?? 'unknown',
  memoryGb: Math.round(os.totalmem() / 1024 ** 3),
  platform: `${os.platform()} ${os.release()}`,
  node: process.version,
});

/** The bench's server files, built as the packages are (which `npm run build` must have built). */
function buildServers(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const missing = ['service-kit', 'subgraphs/users', 'subgraphs/memes', 'subgraphs/ai', 'router'].filter(
    (p) => !existsSync(`${root}/${p}/dist/.built`),
  );
  if (missing.length) throw new Error(`no build of ${missing.join(', ')}: run npm run build first, or use --sources`);
  const servers = ['router', 'gateway', 'subgraphs', 'aiWorker', 'ceiling', 'otlpSink'].map((s) => `servers/${s}.ts`);
  const built = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      'scripts/build.ts',
      '--src',
      'bench',
      '--out',
      'bench/dist',
      '--no-assets',
      '--only',
      [...servers, 'lib/child.ts'].join(','),
    ],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  if (built.status !== 0) throw new Error('building bench/dist failed');
  runServersFromBuild();
}

async function main() {
  const options = readOptions();
  const startedAt = new Date();
  let platform: Platform | undefined;
  // Children die with us whatever happens; an interrupted run still drops its database.
  process.on('exit', killAll);
  process.once('SIGINT', () => {
    say('\ninterrupted: stopping servers, dropping the database');
    killAll();
    void (platform?.close() ?? Promise.resolve()).finally(() => process.exit(130));
  });

  if (options.build) buildServers();
  const { cpus } = machine();
  say(
    `Memegraph bench: ${options.scenarios.map((s) => s.name).join(', ')}; ${options.settings.connections} connections, ` +
      `${options.settings.warmupSeconds}s warm-up + ${options.settings.seconds}s per target in ${options.settings.rounds} rounds; ${cpus} CPUs`,
  );
  const privateRedis = options.redisUrl ? null : await startPrivateRedis();
  const redisUrl = options.redisUrl ?? privateRedis?.url ?? 'redis://127.0.0.1:6379';
  say(
    `starting the platform (database, ${SEED.users} users, ${SEED.memes} memes, subgraphs, AI worker; ` +
      `Redis at ${redisUrl}${privateRedis ? ', the run’s own' : ''})…`,
  );
  platform = await startPlatform({
    ...SEED,
    redisUrl,
    replica: options.replica,
    ...(options.subgraphsProfileDir && { subgraphsProfileDir: options.subgraphsProfileDir }),
  });
  // Traced routers export their spans here; kept apart from the load generator and the routers.
  const otlpSink = options.tracing ? await startProcess('otlp-sink', serverFile('otlpSink'), {}) : undefined;
  if (otlpSink) options.settings.tracingEndpoint = otlpSink.info.url;
  const results: Array<
    { name: string; description: string; platformPeakRssBytes: Record<string, number> } & ScenarioResult
  > = [];
  const bench = new Bench(options.settings, platform, say);
  let failure: unknown;
  try {
    for (const scenario of options.scenarios) {
      say(`\n## ${scenario.name}\n${scenario.description}`);
      // Each scenario on empty caches: what the scenarios before it cached (tens of thousands of distinct
      // misses, pages holding the hot memes) must not weigh on this one, whichever ran before.
      const cleared = await platform.clearCaches();
      if (cleared)
        say(`  ${cleared} cached answers, entities and tag versions of earlier scenarios deleted from Redis`);
      bench.resetPlatformPeaks();
      const result = await scenario.run(bench);
      const platformPeakRssBytes = await bench.platformPeakRss();
      results.push({ name: scenario.name, description: scenario.description, ...result, platformPeakRssBytes });
      say(`\n${formatScenario(result, platformPeakRssBytes)}`);
    }
  } catch (error) {
    failure = error;
  }
  let cleanup: { redisKeysDeleted: number } | undefined;
  try {
    await bench.stopAll();
    await otlpSink?.stop();
    cleanup = await platform.close();
    platform = undefined;
    privateRedis?.stop();
  } catch (error) {
    // The first failure is the one to see; a cleanup failing after it is reported beside it.
    if (failure) console.error(`cleanup failed too: ${error instanceof Error ? error.message : String(error)}`);
    else failure = error;
  }
  if (failure || !cleanup) throw failure;

  const file = new URL(`results/${RUN_ID}.json`, import.meta.url);
  await mkdir(new URL('results/', import.meta.url), { recursive: true });
  await writeFile(
    file,
    `${JSON.stringify({ startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), machine: machine(), settings: options.settings, seed: SEED, scenarios: results, cleanup }, null, 2)}\n`,
  );
  say(`\nresults: ${fileURLToPath(file)}; database dropped, ${cleanup.redisKeysDeleted} Redis keys deleted`);
  if (options.settings.profileDir) say(`CPU profiles: ${options.settings.profileDir}`);
  if (options.subgraphsProfileDir) say(`subgraphs' CPU profiles: ${join(options.subgraphsProfileDir, 'subgraphs')}`);
}

main().catch((error: unknown) => {
  // fetch's own message ("fetch failed") says nothing; its cause says which connection failed and why.
  console.error(
    error instanceof Error
      ? error.cause === undefined
        ? error.message
        : `${error.message} (${String(error.cause)})`
      : error,
  );
  if (error instanceof Error && error.stack) console.error(error.stack.split('\n').slice(1, 6).join('\n'));
  killAll();
  process.exit(1);
});
