/**
 * The line protocol between the benchmark and the servers it starts.
 * Child → parent: one JSON object a line on stdout, marked with `bench`
 * (anything else on stdout, such as a log line, is passed through).
 * Parent → child: one command a line on stdin.
 */

/** What a server process says about itself; CPU in microseconds since it started. */
export interface ProcessStats {
  rssBytes: number;
  /** Highest RSS seen, sampled every 100 ms since the process started (or the last `reset-peak`). */
  peakRssBytes: number;
  cpuUserMicros: number;
  cpuSystemMicros: number;
  /** HTTP requests the process's servers received, answered in full, and still have open. */
  requests: { received: number; answered: number; inFlight: number };
  /** Counters of the server's own (e.g. GraphQL requests per subgraph). */
  counters: Record<string, number>;
}

export type ChildMessage =
  | { bench: 'ready'; info: Record<string, string> }
  | { bench: 'stats'; stats: ProcessStats }
  | { bench: 'stopped'; stats: ProcessStats }
  | { bench: 'failed'; message: string };

/** `reset-peak` starts the peak RSS over from the current RSS (a scenario reports its own peak). */
export type ChildCommand = 'stats' | 'stop' | 'reset-peak';

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isNumberRecord = (value: unknown): value is Record<string, number> =>
  isRecord(value) && Object.values(value).every((v) => typeof v === 'number');

const isStringRecord = (value: unknown): value is Record<string, string> =>
  isRecord(value) && Object.values(value).every((v) => typeof v === 'string');

function isStats(value: unknown): value is ProcessStats {
  return (
    isRecord(value) &&
    ['rssBytes', 'peakRssBytes', 'cpuUserMicros', 'cpuSystemMicros'].every((key) => typeof value[key] === 'number') &&
    isNumberRecord(value.requests) &&
    ['received', 'answered', 'inFlight'].every(
      (key) => typeof (value.requests as Record<string, number>)[key] === 'number',
    ) &&
    isNumberRecord(value.counters)
  );
}

/** The protocol message on a stdout line, or null for any other line. */
export function parseChildMessage(line: string): ChildMessage | null {
  if (!line.startsWith('{"bench":')) return null;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (!isRecord(value)) return null;
  switch (value.bench) {
    case 'ready':
      return isStringRecord(value.info) ? { bench: 'ready', info: value.info } : null;
    case 'stats':
    case 'stopped':
      return isStats(value.stats) ? { bench: value.bench, stats: value.stats } : null;
    case 'failed':
      return typeof value.message === 'string' ? { bench: 'failed', message: value.message } : null;
    default:
      return null;
  }
}
