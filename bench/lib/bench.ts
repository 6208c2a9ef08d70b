import { join } from 'node:path';
import { routerNodeOptions } from '@memegraph/router/heap';
import {
  addCounts,
  combine,
  runLoad,
  sumOf,
  validate,
  type HttpRequest,
  type LoadResult,
  type LoadSlice,
  type RejectionCheck,
  type ResponseCheck,
  type Sample,
} from './load';
import { cpuBetween, machineBusyMs, ownCpuMicros } from './machine';
import type { Platform } from './platform';
import { serverFile, startProcess, type BenchProcess } from './process';
import type { ProcessStats } from './protocol';

export interface BenchSettings {
  /** Measured seconds per target, in `rounds` slices. */
  seconds: number;
  /**
   * Targets are measured in turns, a slice each per round, the order rotating
   * every round: a machine that speeds up or slows down during the run (JIT,
   * caches, neighbours) then affects every target alike.
   */
  rounds: number;
  connections: number;
  /** Load on each target before measuring, so JIT, pools and caches are warm. */
  warmupSeconds: number;
  /** More warm-up for the first target of a run, which also warms the subgraphs and PostgreSQL for the others. */
  platformWarmupSeconds: number;
  /** Requests checked before and after measuring each target. */
  validationRequests: number;
  /** Where servers under test write V8 CPU profiles (`--cpu-prof`); unset: not profiled. */
  profileDir?: string;
  /**
   * With --tracing: the OTLP/HTTP endpoint traced targets export their spans
   * to (bench/servers/otlpSink.ts); scenarios that measure tracing add their
   * traced targets only when it is set.
   */
  tracingEndpoint?: string;
}

/** A server under test: a file under `bench/servers/`. */
export type ServerKind = 'router' | 'gateway' | 'ceiling';

/** One server under test, in a process of its own, and the request it is measured with. */
export interface TargetSpec {
  name: string;
  /** The subgraphs it calls, when not the platform's (their CPU and calls are counted for it). */
  subgraphs?: BenchProcess;
  description: string;
  server: ServerKind;
  env: Record<string, string>;
  request: HttpRequest;
  check: ResponseCheck;
  /**
   * Subgraph calls each request must cause (the query plan's fetches):
   * fewer means the target skipped the work, more that it did extra.
   */
  subgraphCallsPerRequest?: number;
  /**
   * Check every answer under load too, not only before and after measuring
   * (for workloads of several requests; it costs the load generator a JSON
   * parse per answer). Errors are then the answers that fail `check`.
   */
  checkUnderLoad?: boolean;
  /** Refusals the scenario expects under load (e.g. QUEUE_OVERLOADED), counted by code apart from errors; with `checkUnderLoad`. */
  expectedRejection?: RejectionCheck;
  /**
   * Loads the tracing preload, as the services run: `off` without OTEL_*
   * settings, a number to trace at that sampling ratio (parent-based),
   * exporting to `BenchSettings.tracingEndpoint`. Unset: no preload.
   */
  tracing?: 'off' | number;
}

/** The tracing preload of the services (scripts/start.ts, the image), and the settings that turn it on. */
const TRACING_PRELOAD = '@memegraph/service-kit/tracing-preload';

function tracingEnv(tracing: TargetSpec['tracing'], endpoint: string | undefined): Record<string, string> {
  if (tracing === undefined || tracing === 'off') return {};
  if (!endpoint) throw new Error('a traced target needs BenchSettings.tracingEndpoint (--tracing)');
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: String(tracing),
    OTEL_SERVICE_NAME: 'router',
  };
}

/** A started target whose answers were checked. */
export interface Target {
  spec: TargetSpec;
  process: BenchProcess;
  url: string;
  /** One answer, byte for byte (e.g. for a server that replays it). */
  sample: Sample;
}

export interface TargetResult {
  name: string;
  description: string;
  server: ServerKind;
  load: LoadResult;
  /**
   * Wrong answers while measuring: socket errors and timeouts, plus non-2xx
   * answers, or (with `checkUnderLoad`) answers that failed the check.
   */
  errors: number;
  /** Expected refusals by error code (with `expectedRejection`); null when the scenario expects none. */
  rejections: Record<string, number> | null;
  /** Highest RSS of the server process, sampled every 100 ms from its start to the end of measuring. */
  peakRssBytes: number;
  /**
   * CPU (user + system) per request the server received while measuring
   * (including those whose answer came after the end of a slice: the
   * server did their work all the same), by process (see CpuMicros), and
   * everything else the machine did meanwhile.
   */
  cpuMicrosPerRequest: CpuMicros & { other: number };
  /** Cores busy with none of the above while measuring: another program competing for the machine. */
  otherCores: number;
  /** CPU the server used while measuring, in cores (1 = one core busy all the time). */
  serverCores: number;
  /** GraphQL requests the subgraphs served per request the server received. */
  subgraphCallsPerRequest: number;
  /** Requests the server received but did not answer: cut off at the end of a slice. */
  abandonedRequests: number;
  /** What `MeasureOptions.probe` read, the differences over every slice added up. */
  probes: Record<string, number>;
  warnings: string[];
}

/** CPU microseconds of each process (or group of processes) the bench knows. */
export interface CpuMicros {
  server: number;
  subgraphs: number;
  /** The AI generation worker process. */
  aiWorker: number;
  /** The PostgreSQL backends of the run's database (NaN without /proc). */
  postgres: number;
  redis: number;
  loadGenerator: number;
}

/** How `Bench.measure` loads the targets, when the default (`seconds` of each target's request) does not fit. */
export interface MeasureOptions {
  /**
   * One slice of load on a target. What it awaits is measured with it:
   * e.g. the queued jobs that the load started, running to their end.
   * Default: `bench.load(target, seconds)`.
   */
  slice?: (target: Target, seconds: number) => Promise<LoadSlice>;
  /** Warms a target up. Default: `bench.load(target, seconds)`. */
  warmUp?: (target: Target, seconds: number) => Promise<void>;
  /**
   * Counters read before and after each slice, outside its window (so
   * reading them costs the slice nothing), e.g. from the target's /metrics.
   * The differences are added up per target in `TargetResult.probes`.
   */
  probe?: (target: Target) => Promise<Record<string, number>>;
}

export interface ScenarioResult {
  /** The target the others are compared with. */
  baseline: string;
  targets: TargetResult[];
  /** Figures the scenario derives, e.g. `{ pipelineOverheadPercent: 12.3 }`. */
  metrics: Record<string, number>;
  /** The same, as lines for the reader. */
  summary: string[];
}

/** A named benchmark: `npm run bench -- --scenario <name>`. */
export interface Scenario {
  name: string;
  description: string;
  run(bench: Bench): Promise<ScenarioResult>;
}

const IDLE_POLL_MS = 50;
const IDLE_TIMEOUT_MS = 30_000;
/** More than this many cores busy outside the benchmark's processes makes a measurement suspect. */
const OTHER_CORES_WARNING = 0.15;

/**
 * Stats once `process` has answered every request it received. Load stops
 * with requests in flight; they finish (or fail) after it, and their CPU
 * and subgraph calls must land inside a measured window, not the next one.
 */
async function idleStats(process: BenchProcess): Promise<ProcessStats> {
  const deadline = Date.now() + IDLE_TIMEOUT_MS;
  for (;;) {
    const stats = await process.stats();
    if (stats.requests.inFlight === 0) return stats;
    if (Date.now() > deadline)
      throw new Error(
        `${process.name} still has ${stats.requests.inFlight} requests in flight after ${IDLE_TIMEOUT_MS} ms`,
      );
    await new Promise((resolve) => setTimeout(resolve, IDLE_POLL_MS));
  }
}

/**
 * How `calls` subgraph calls per request miss the `expected` query plan, or
 * null when within tolerance. A little under is not a miss: requests cut off
 * while the server was still reading them never reach the subgraphs. A
 * little over neither: a cached answer past its maxAge is executed again now
 * and then.
 */
export function subgraphCallsOff(calls: number, expected: number): 'fewer' | 'more' | null {
  if (calls < expected * 0.95) return 'fewer';
  if (calls > expected * 1.02 + 0.05) return 'more';
  return null;
}

const cpuMicros = (stats: ProcessStats) => stats.cpuUserMicros + stats.cpuSystemMicros;
const counted = (stats: ProcessStats) => Object.values(stats.counters).reduce((sum, n) => sum + n, 0);

/** Everything measured around one slice of load, as differences. */
interface Window {
  slice: LoadSlice;
  answered: number;
  received: number;
  subgraphCalls: number;
  cpu: CpuMicros & { machine: number };
  probes: Record<string, number>;
  /** Wall time of the slice: its load, and whatever the slice waited for after it. */
  seconds: number;
}

/** What scenarios measure with: the running platform, the settings, `start` and `measure`. */
export class Bench {
  private platformWarm = false;
  private readonly started: Target[] = [];

  constructor(
    readonly settings: BenchSettings,
    readonly platform: Platform,
    private readonly say: (line: string) => void,
  ) {}

  /** Router configuration for this platform; `extra` on top (e.g. `TIERS_JSON`). */
  routerEnv(extra: Record<string, string> = {}): Record<string, string> {
    const { platform } = this;
    return {
      SUBGRAPH_SIGNING_SECRET: platform.secrets.signing,
      JWT_SECRET: platform.secrets.jwt,
      SUBGRAPH_URL_USERS: platform.subgraphUrls.users,
      SUBGRAPH_URL_MEMES: platform.subgraphUrls.memes,
      SUBGRAPH_URL_AI: platform.subgraphUrls.ai,
      REDIS_URL: platform.redisUrl,
      REDIS_PREFIX: platform.redisPrefix,
      LOG_LEVEL: 'warn',
      // @apollo/gateway otherwise probes cloud metadata endpoints at start and
      // reports to Apollo at stop; same for router and baseline, and no part of either.
      APOLLO_TELEMETRY_DISABLED: 'true',
      ...extra,
    };
  }

  /** Keeps `connections` connections busy with the target's request for `seconds`, checking answers as its spec says. */
  load(target: Target, seconds: number): Promise<LoadSlice> {
    const { spec } = target;
    const check = spec.checkUnderLoad
      ? { check: spec.check, ...(spec.expectedRejection ? { rejection: spec.expectedRejection } : {}) }
      : undefined;
    return runLoad(target.url, spec.request, {
      seconds,
      connections: this.settings.connections,
      ...(check ? { check } : {}),
    });
  }

  /** Resolves once the target has answered (or dropped) every request it received, e.g. those a slice's end cut off. */
  async idle(target: Target): Promise<void> {
    await idleStats(target.process);
  }

  /** Resets the peak RSS of the platform's processes (subgraphs, AI worker), e.g. at the start of a scenario. */
  resetPlatformPeaks(): void {
    for (const process of this.platformProcesses()) process.resetPeak();
  }

  /** Peak RSS of each of the platform's processes since `resetPlatformPeaks`. */
  async platformPeakRss(): Promise<Record<string, number>> {
    const peaks: Record<string, number> = {};
    for (const process of this.platformProcesses()) peaks[process.name] = (await process.stats()).peakRssBytes;
    return peaks;
  }

  private platformProcesses(): BenchProcess[] {
    return [this.platform.subgraphs, this.platform.aiWorker];
  }

  /** Starts a target in its own process and checks its answers. It stays idle until measured. */
  async start(spec: TargetSpec): Promise<Target> {
    // A directory per target: tsx's loader thread writes a profile of its own next to the main thread's.
    const nodeArgs = [
      ...(this.settings.profileDir ? ['--cpu-prof', '--cpu-prof-dir', join(this.settings.profileDir, spec.name)] : []),
      // The router runs with the heap limit it is deployed with (router/src/heap.ts).
      ...(spec.server === 'router' ? routerNodeOptions() : []),
    ];
    const process = await startProcess(
      spec.name,
      serverFile(spec.server),
      { ...spec.env, ...tracingEnv(spec.tracing, this.settings.tracingEndpoint) },
      nodeArgs,
      spec.tracing === undefined ? [] : [TRACING_PRELOAD],
    );
    const target: Target = {
      spec,
      process,
      url: process.info.url ?? '',
      sample: { body: Buffer.alloc(0), contentType: '' },
    };
    this.started.push(target);
    if (!target.url) throw new Error(`${spec.name} reported no URL`);
    target.sample = await validate(target.url, spec.request, spec.check, this.settings.validationRequests);
    this.say(`  ${spec.name}: started, answers checked`);
    return target;
  }

  /**
   * Warms every target up, measures them in rotating turns, checks their
   * answers again (a target that broke under load must not pass), and
   * stops them. Results in the order given.
   */
  async measure(targets: readonly Target[], options: MeasureOptions = {}): Promise<TargetResult[]> {
    const { settings } = this;
    const slice = options.slice ?? ((target, seconds) => this.load(target, seconds));
    const warmUp = options.warmUp ?? (async (target, seconds) => void (await this.load(target, seconds)));
    try {
      for (const target of targets) {
        const seconds = settings.warmupSeconds + (this.platformWarm ? 0 : settings.platformWarmupSeconds);
        this.platformWarm = true;
        this.say(`  ${target.spec.name}: warming up ${seconds}s`);
        if (seconds > 0) await warmUp(target, seconds);
      }
      const windows = new Map<Target, Window[]>(targets.map((t) => [t, []]));
      const sliceSeconds = settings.seconds / settings.rounds;
      this.say(
        `  measuring ${targets.length} targets for ${settings.seconds}s each, in ${settings.rounds} rounds of ${sliceSeconds.toFixed(1)}s slices`,
      );
      for (let round = 0; round < settings.rounds; round++) {
        for (let i = 0; i < targets.length; i++) {
          const target = targets[(round + i) % targets.length]!;
          const before = (await options.probe?.(target)) ?? {};
          const window = await this.window(target, () => slice(target, sliceSeconds));
          const after = (await options.probe?.(target)) ?? {};
          for (const [name, value] of Object.entries(after)) window.probes[name] = value - (before[name] ?? 0);
          windows.get(target)!.push(window);
        }
      }
      for (const target of targets)
        await validate(target.url, target.spec.request, target.spec.check, settings.validationRequests);
      const results: TargetResult[] = [];
      for (const target of targets)
        results.push(this.result(target, windows.get(target)!, (await target.process.stats()).peakRssBytes));
      return results;
    } finally {
      for (const target of targets) await this.stop(target);
    }
  }

  /** Stops every target still running (after a failure). */
  async stopAll(): Promise<void> {
    for (const target of [...this.started]) await this.stop(target);
  }

  private async stop(target: Target): Promise<void> {
    const at = this.started.indexOf(target);
    if (at < 0) return;
    this.started.splice(at, 1);
    await target.process.stop();
  }

  private async window(target: Target, run: () => Promise<LoadSlice>): Promise<Window> {
    const { platform } = this;
    const server = await idleStats(target.process);
    // A target may run on subgraphs of its own (the replica's, with --replica).
    const ownSubgraphs = target.spec.subgraphs ?? platform.subgraphs;
    const subgraphs = await idleStats(ownSubgraphs);
    const worker = await platform.aiWorker.stats();
    const [redis, postgres, machine, own] = [
      await platform.redisCpuSeconds(),
      platform.postgresCpu(),
      machineBusyMs(),
      ownCpuMicros(),
    ];
    const started = performance.now();
    const slice = await run();
    const seconds = (performance.now() - started) / 1000;
    const serverAfter = await idleStats(target.process);
    const subgraphsAfter = await idleStats(ownSubgraphs);
    const workerAfter = await platform.aiWorker.stats();
    const [redisAfter, postgresAfter, machineAfter, ownAfter] = [
      await platform.redisCpuSeconds(),
      platform.postgresCpu(),
      machineBusyMs(),
      ownCpuMicros(),
    ];
    return {
      slice,
      answered: serverAfter.requests.answered - server.requests.answered,
      received: serverAfter.requests.received - server.requests.received,
      subgraphCalls: counted(subgraphsAfter) - counted(subgraphs),
      cpu: {
        server: cpuMicros(serverAfter) - cpuMicros(server),
        subgraphs: cpuMicros(subgraphsAfter) - cpuMicros(subgraphs),
        aiWorker: cpuMicros(workerAfter) - cpuMicros(worker),
        postgres: cpuBetween(postgres, postgresAfter),
        redis: (redisAfter - redis) * 1e6,
        loadGenerator: ownAfter - own,
        machine: (machineAfter - machine) * 1000,
      },
      probes: {},
      seconds,
    };
  }

  private result(target: Target, windows: readonly Window[], peakRssBytes: number): TargetResult {
    const { spec } = target;
    const load = combine(windows.map((w) => w.slice));
    const total = (pick: (w: Window) => number) => windows.reduce((sum, w) => sum + pick(w), 0);
    const received = Math.max(
      1,
      total((w) => w.received),
    );
    const cpu: CpuMicros = {
      server: total((w) => w.cpu.server),
      subgraphs: total((w) => w.cpu.subgraphs),
      aiWorker: total((w) => w.cpu.aiWorker),
      postgres: total((w) => w.cpu.postgres),
      redis: total((w) => w.cpu.redis),
      loadGenerator: total((w) => w.cpu.loadGenerator),
    };
    const known = Object.values(cpu).reduce((sum, micros) => sum + (Number.isNaN(micros) ? 0 : micros), 0);
    const other = Math.max(0, total((w) => w.cpu.machine) - known);
    // Over the windows' wall time, which for a slice that waits for work to finish is more than the load's seconds.
    const windowSeconds = total((w) => w.seconds);
    const otherCores = other / 1e6 / windowSeconds;
    const subgraphCalls = total((w) => w.subgraphCalls) / received;
    const probes = windows.reduce((all, w) => addCounts(all, w.probes), {});

    const errors = load.socketErrors + (load.checked ? sumOf(load.checked.problems) : load.non2xx);
    const warnings: string[] = [];
    if (load.socketErrors > 0) warnings.push(`${load.socketErrors} socket errors (${load.timeouts} timeouts)`);
    if (load.checked) {
      for (const [reason, count] of Object.entries(load.checked.problems))
        warnings.push(`${count} answers wrong: ${reason}`);
    } else if (load.non2xx > 0) {
      warnings.push(`${load.non2xx} non-2xx answers`);
    }
    // Several requests answer several sizes; one request must answer one.
    if (!spec.checkUnderLoad && load.responseBytes.max > load.responseBytes.min * 1.05) {
      warnings.push(
        `answers varied in size (${load.responseBytes.min}–${load.responseBytes.max} bytes): some were not the checked answer`,
      );
    }
    if (spec.subgraphCallsPerRequest !== undefined) {
      const expected = spec.subgraphCallsPerRequest;
      const off = subgraphCallsOff(subgraphCalls, expected);
      if (off) {
        const meaning = off === 'fewer' ? 'it skipped work (a cache?)' : 'it made calls the query plan does not need';
        warnings.push(`${subgraphCalls.toFixed(2)} subgraph calls per request, expected ${expected}: ${meaning}`);
      }
    }
    if (otherCores > OTHER_CORES_WARNING)
      warnings.push(
        `something else kept ${otherCores.toFixed(2)} cores busy while measuring: rerun on an idle machine`,
      );

    const perRequest = (micros: number) => micros / received;
    return {
      name: spec.name,
      description: spec.description,
      server: spec.server,
      load,
      errors,
      rejections: spec.expectedRejection ? (load.checked?.rejections ?? {}) : null,
      peakRssBytes,
      cpuMicrosPerRequest: {
        server: perRequest(cpu.server),
        subgraphs: perRequest(cpu.subgraphs),
        aiWorker: perRequest(cpu.aiWorker),
        postgres: perRequest(cpu.postgres),
        redis: perRequest(cpu.redis),
        loadGenerator: perRequest(cpu.loadGenerator),
        other: perRequest(other),
      },
      otherCores,
      serverCores: cpu.server / 1e6 / windowSeconds,
      subgraphCallsPerRequest: subgraphCalls,
      abandonedRequests: total((w) => w.received - w.answered),
      probes,
      warnings,
    };
  }
}
