import type { ScenarioResult, TargetResult } from './bench';
import { sumOf } from './load';

const MB = 1024 * 1024;

const fixed = (value: number, digits: number) =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

type Column = [name: string, cell: (target: TargetResult) => string];

/**
 * A scenario's results as a Markdown table (readable in a terminal, pastable
 * into a README), then its summary, the platform's peak memory and the
 * warnings. The `rejected` column appears when the scenario expects refusals.
 */
export function formatScenario(result: ScenarioResult, platformPeakRssBytes: Record<string, number> = {}): string {
  const baseline = result.targets.find((t) => t.name === result.baseline);
  const ratio = (target: TargetResult) =>
    baseline ? `${fixed(target.load.requestsPerSecond / baseline.load.requestsPerSecond, 2)}×` : 'n/a';
  const withRejections = result.targets.some((t) => t.rejections !== null);
  const columns: Column[] = [
    ['target', (t) => t.name],
    ['req/s', (t) => fixed(t.load.requestsPerSecond, 0)],
    ['p50 ms', (t) => fixed(t.load.latencyMs.p50, 0)],
    ['p99 ms', (t) => fixed(t.load.latencyMs.p99, 0)],
    ['errors', (t) => fixed(t.errors, 0)],
    ...(withRejections ? [['rejected', (t) => fixed(sumOf(t.rejections ?? {}), 0)] satisfies Column] : []),
    ['peak RSS MB', (t) => fixed(t.peakRssBytes / MB, 0)],
    [`vs ${result.baseline}`, ratio],
    ['subgraph calls/req', (t) => fixed(t.subgraphCallsPerRequest, 2)],
    ['CPU µs/req: server', (t) => fixed(t.cpuMicrosPerRequest.server, 0)],
    ['subgraphs', (t) => fixed(t.cpuMicrosPerRequest.subgraphs, 0)],
    ['AI worker', (t) => fixed(t.cpuMicrosPerRequest.aiWorker, 0)],
    [
      'PostgreSQL',
      (t) => (Number.isNaN(t.cpuMicrosPerRequest.postgres) ? 'n/a' : fixed(t.cpuMicrosPerRequest.postgres, 0)),
    ],
    ['Redis', (t) => fixed(t.cpuMicrosPerRequest.redis, 0)],
    ['load gen', (t) => fixed(t.cpuMicrosPerRequest.loadGenerator, 0)],
    ['other', (t) => fixed(t.cpuMicrosPerRequest.other, 0)],
  ];
  const header = columns.map(([name]) => name);
  const rows = result.targets.map((t) => columns.map(([, cell]) => cell(t)));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  const peaks = Object.entries(platformPeakRssBytes).map(([name, bytes]) => `${name} ${fixed(bytes / MB, 0)} MB`);
  const warnings = result.targets.flatMap((t) => t.warnings.map((w) => `WARNING ${t.name}: ${w}`));
  return [
    line(header),
    rule,
    ...rows.map(line),
    '',
    ...result.summary,
    ...(peaks.length ? [`peak RSS of the platform during the scenario: ${peaks.join(', ')}`] : []),
    ...warnings,
  ].join('\n');
}
