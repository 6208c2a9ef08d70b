import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { eventually } from './accounts';

const ROUTER_MAIN = fileURLToPath(new URL('../../router/src/main.ts', import.meta.url));

/** A line of the router's JSON log. */
export interface RouterLogLine {
  pid: number;
  msg: string;
  url?: string;
  status?: number;
}

export interface RouterProcess {
  child: ChildProcess;
  /** Every log line so far, in the order written. */
  lines: RouterLogLine[];
  /** The `router ready` lines so far: one per process that listens (several with WEB_CONCURRENCY). */
  ready(): RouterLogLine[];
  /** Resolves to the exit code. */
  exited: Promise<number | null>;
  /** Kills what is still running (for afterAll). */
  kill(): void;
}

/**
 * The router's real entry point (`router/src/main.ts`, as `npm start` runs it)
 * in a process of its own on port 0, its log read line by line; resolves once
 * `processes` of them report ready.
 */
export async function startRouterProcess(env: Record<string, string>, processes = 1): Promise<RouterProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', ROUTER_MAIN], {
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: RouterLogLine[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line.startsWith('{')) lines.push(JSON.parse(line) as RouterLogLine);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = () => lines.filter((l) => l.msg === 'router ready');
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const router = { child, lines, ready, exited, kill };
  try {
    await eventually(async () => ready().length >= processes, 30_000, 50);
  } catch (error) {
    kill();
    throw error;
  }
  return router;
}
