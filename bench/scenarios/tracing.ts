import type { Bench, Target, TargetResult, TargetSpec } from '../lib/bench';

/** How a router target is run again with --tracing: the preload without OTEL_* settings, then traced at 1% and 100%. */
const LEVELS = [
  { suffix: 'tracing-off', tracing: 'off', label: 'tracing off (preload loaded, no OTEL_* settings)' },
  { suffix: 'traced-1pct', tracing: 0.01, label: 'traced, 1% of requests sampled' },
  { suffix: 'traced-100pct', tracing: 1, label: 'traced, every request sampled' },
] as const;

/**
 * The same router target through the tracing preload at each level, spans
 * exported over OTLP/HTTP to the bench's sink; none without --tracing.
 */
export async function startTraced(bench: Bench, spec: TargetSpec): Promise<Target[]> {
  if (!bench.settings.tracingEndpoint) return [];
  const targets: Target[] = [];
  for (const level of LEVELS) {
    targets.push(
      await bench.start({
        ...spec,
        name: `${spec.name}-${level.suffix}`,
        description: `${spec.name}, ${level.label}`,
        tracing: level.tracing,
      }),
    );
  }
  return targets;
}

/** Each traced target against the router without the preload: req/s ratio and router CPU per request. */
export function tracingCost(
  untraced: TargetResult,
  traced: TargetResult[],
): { metrics: Record<string, number>; summary: string[] } {
  const metrics: Record<string, number> = {};
  const summary: string[] = [];
  traced.forEach((target, i) => {
    const level = LEVELS[i]!;
    const ratio = target.load.requestsPerSecond / untraced.load.requestsPerSecond;
    const cpu = target.cpuMicrosPerRequest.server - untraced.cpuMicrosPerRequest.server;
    const key = level.suffix.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
    metrics[`${key}RequestsPerSecondRatio`] = ratio;
    metrics[`${key}RouterCpuMicrosPerRequest`] = cpu;
    summary.push(
      `${level.label}: ${ratio.toFixed(3)}× the req/s of ${untraced.name} without the preload, ` +
        `${cpu >= 0 ? '+' : ''}${cpu.toFixed(0)} µs of router CPU per request`,
    );
  });
  return { metrics, summary };
}
