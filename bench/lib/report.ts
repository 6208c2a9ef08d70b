import type { ScenarioResult, TargetResult } from './bench';

const MB = 1024 * 1024;

const fixed = (value: number, digits: number) => value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** A scenario's results as a Markdown table (readable in a terminal, pastable into a README), then its summary. */
export function formatScenario(result: ScenarioResult): string {
  const baseline = result.targets.find((t) => t.name === result.baseline);
  const ratio = (target: TargetResult) => (baseline ? `${fixed(target.load.requestsPerSecond / baseline.load.requestsPerSecond, 2)}×` : 'n/a');
  const header = [
    'target',
    'req/s',
    'p50 ms',
    'p99 ms',
    'errors',
    'peak RSS MB',
    `vs ${result.baseline}`,
    'subgraph calls/req',
    'CPU µs/req: server',
    'subgraphs',
    'PostgreSQL',
    'Redis',
    'load gen',
    'other',
  ];
  const rows = result.targets.map((t) => [
    t.name,
    fixed(t.load.requestsPerSecond, 0),
    fixed(t.load.latencyMs.p50, 0),
    fixed(t.load.latencyMs.p99, 0),
    fixed(t.load.non2xx + t.load.socketErrors, 0),
    fixed(t.peakRssBytes / MB, 0),
    ratio(t),
    fixed(t.subgraphCallsPerRequest, 2),
    fixed(t.cpuMicrosPerRequest.server, 0),
    fixed(t.cpuMicrosPerRequest.subgraphs, 0),
    Number.isNaN(t.cpuMicrosPerRequest.postgres) ? 'n/a' : fixed(t.cpuMicrosPerRequest.postgres, 0),
    fixed(t.cpuMicrosPerRequest.redis, 0),
    fixed(t.cpuMicrosPerRequest.loadGenerator, 0),
    fixed(t.cpuMicrosPerRequest.other, 0),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  const warnings = result.targets.flatMap((t) => t.warnings.map((w) => `WARNING ${t.name}: ${w}`));
  return [line(header), rule, ...rows.map(line), '', ...result.summary, ...warnings].join('\n');
}
