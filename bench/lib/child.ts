import type { Server } from 'node:http';
import { createInterface } from 'node:readline';
import type { ChildCommand, ChildMessage, ProcessStats } from './protocol';

/** A server started by a benchmark child process. */
export interface BenchServer {
  /** Sent to the parent once listening, e.g. `{ url }`. */
  info: Record<string, string>;
  /** The HTTP servers whose requests are counted. */
  httpServers: Server[];
  counters?: () => Record<string, number>;
  close(): Promise<void>;
}

const SAMPLE_MS = 100;

const send = (message: ChildMessage) => process.stdout.write(`${JSON.stringify(message)}\n`);

/**
 * Runs one server for the benchmark: starts it, reports its address, answers
 * `stats`, and closes it on `stop`, on SIGTERM/SIGINT, or when the parent goes
 * away (stdin ends), so no server outlives the run.
 */
export async function runBenchChild(start: () => Promise<BenchServer>): Promise<void> {
  // Sampled rather than read at the end: the peak is what sizing needs, and it passes.
  let peakRssBytes = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peakRssBytes = Math.max(peakRssBytes, process.memoryUsage.rss());
  }, SAMPLE_MS);
  sampler.unref();

  let server: BenchServer;
  try {
    server = await start();
  } catch (error) {
    send({ bench: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    process.exit(1);
  }

  const requests = { received: 0, answered: 0, inFlight: 0 };
  for (const httpServer of server.httpServers) {
    httpServer.on('request', (_req, res) => {
      requests.received++;
      requests.inFlight++;
      // Closed without finishing: the client went away first (e.g. the load stopped).
      res.once('close', () => {
        requests.inFlight--;
        if (res.writableFinished) requests.answered++;
      });
    });
  }

  const stats = (): ProcessStats => {
    const rssBytes = process.memoryUsage.rss();
    peakRssBytes = Math.max(peakRssBytes, rssBytes);
    const cpu = process.cpuUsage();
    return {
      rssBytes,
      peakRssBytes,
      cpuUserMicros: cpu.user,
      cpuSystemMicros: cpu.system,
      requests: { ...requests },
      counters: server.counters?.() ?? {},
    };
  };

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    const final = stats();
    try {
      await server.close();
      clearInterval(sampler);
      send({ bench: 'stopped', stats: final });
      process.exitCode = 0;
    } catch (error) {
      send({ bench: 'failed', message: `close failed: ${error instanceof Error ? error.message : String(error)}` });
      process.exitCode = 1;
    }
    // Pools and timers that outlive close() must not keep the process up.
    setTimeout(() => process.exit(), 200).unref();
  };

  const commands = createInterface({ input: process.stdin });
  commands.on('line', (line) => {
    const command = line.trim() as ChildCommand;
    if (command === 'stats') send({ bench: 'stats', stats: stats() });
    else if (command === 'reset-peak') peakRssBytes = process.memoryUsage.rss();
    else if (command === 'stop') void stop();
  });
  commands.on('close', () => void stop());
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void stop());

  send({ bench: 'ready', info: server.info });
}
