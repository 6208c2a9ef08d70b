import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseChildMessage, type ChildCommand, type ChildMessage, type ProcessStats } from './protocol';

/** A server process the benchmark started (see `child.ts` for its side). */
export interface BenchProcess {
  name: string;
  pid: number;
  /** What the child reported once listening, e.g. `{ url }`. */
  info: Record<string, string>;
  stats(): Promise<ProcessStats>;
  /** Starts its peak RSS over from its current RSS; stats sent after this show the new peak. */
  resetPeak(): void;
  /** Stops it cleanly and returns its last stats; kills it when it does not stop in time. */
  stop(): Promise<ProcessStats | null>;
}

const READY_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 15_000;

/** Every child still running, so an aborted run can kill what it started. */
const running = new Set<ChildProcess>();

/** Kills the children still running (synchronous: safe in an `exit` handler). */
export function killAll(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

/**
 * A child's log lines, passed to stderr with its name. A line that repeats
 * (same message and error, e.g. every client disconnect at the end of a load)
 * is shown once and counted; the count is shown when the child exits.
 */
class RepeatedLines {
  private readonly seen = new Map<string, number>();

  constructor(private readonly name: string) {}

  write(line: string): void {
    if (!line.trim()) return;
    const key = RepeatedLines.keyOf(line);
    const count = this.seen.get(key) ?? 0;
    this.seen.set(key, count + 1);
    if (count === 0) process.stderr.write(`[${this.name}] ${line.length > 600 ? `${line.slice(0, 600)}…` : line}\n`);
  }

  flush(): void {
    for (const [key, count] of this.seen) {
      if (count > 1) process.stderr.write(`[${this.name}] … and ${count - 1} more like: ${key}\n`);
    }
    this.seen.clear();
  }

  /** Pino lines differ in time and pid; their message and error make the key. */
  private static keyOf(line: string): string {
    try {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed === 'object' && parsed !== null && 'msg' in parsed) {
        const { msg, err } = parsed as { msg: unknown; err?: { message?: unknown } };
        return `${String(msg)}${err?.message ? `: ${String(err.message)}` : ''}`;
      }
    } catch {
      // Not JSON: the line is its own key.
    }
    return line;
  }
}

/**
 * Whether the servers run from their build (the default: bench/dist and each
 * package's dist/, node alone, as in production) instead of their
 * TypeScript sources through tsx (`--sources`). Set once, before any server starts.
 */
let fromBuild = false;
export function runServersFromBuild(): void {
  fromBuild = true;
}

/** The absolute path of a server file under `bench/servers/` (or its build under `bench/dist/servers/`). */
export const serverFile = (name: string) =>
  fileURLToPath(new URL(fromBuild ? `../dist/servers/${name}.js` : `../servers/${name}.ts`, import.meta.url));

/** The environment of a server: from its build, without the condition that selects the packages' sources. */
function serverEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  if (!fromBuild) return { ...process.env, ...env };
  const nodeOptions = (process.env.NODE_OPTIONS ?? '')
    .split(/\s+/)
    .filter((o) => o && o !== '--conditions=@memegraph/source');
  return { ...process.env, NODE_OPTIONS: nodeOptions.join(' '), ...env };
}

/**
 * Starts `file` in a process of its own (`node --import tsx file`, or `node
 * --enable-source-maps file` from the build), its configuration in `env`, and
 * waits until it reports that it listens. `preload`: modules imported before
 * the file (after tsx), e.g. the tracing preload.
 */
export async function startProcess(
  name: string,
  file: string,
  env: Record<string, string>,
  nodeArgs: string[] = [],
  preload: string[] = [],
): Promise<BenchProcess> {
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      ...(fromBuild ? ['--enable-source-maps'] : ['--import', 'tsx']),
      ...preload.flatMap((module) => ['--import', module]),
      file,
    ],
    {
      env: serverEnv(env),
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  running.add(child);
  const waiting: Array<{ kind: ChildMessage['bench'][]; resolve: (message: ChildMessage) => void }> = [];
  let failure: string | null = null;
  let exited = false;

  const logs = new RepeatedLines(name);
  createInterface({ input: child.stderr! }).on('line', (line) => logs.write(line));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const message = parseChildMessage(line);
    if (!message) return logs.write(line);
    if (message.bench === 'failed') failure = message.message;
    const index = waiting.findIndex((w) => w.kind.includes(message.bench));
    if (index >= 0) waiting.splice(index, 1)[0]!.resolve(message);
  });

  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = true;
      running.delete(child);
      logs.flush();
      resolve(code ?? (signal ? 128 : null));
    }),
  );

  const next = (kinds: ChildMessage['bench'][], timeoutMs: number): Promise<ChildMessage> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${name}: no ${kinds.join('/')} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const entry = {
        kind: kinds,
        resolve: (message: ChildMessage) => {
          clearTimeout(timer);
          resolve(message);
        },
      };
      waiting.push(entry);
      void exit.then((code) => {
        clearTimeout(timer);
        const at = waiting.indexOf(entry);
        if (at < 0) return;
        waiting.splice(at, 1);
        reject(new Error(`${name} exited (code ${code})${failure ? `: ${failure}` : ''}`));
      });
    });

  const command = (line: ChildCommand) => {
    if (!exited) child.stdin!.write(`${line}\n`);
  };

  const ready = await next(['ready', 'failed'], READY_TIMEOUT_MS).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  if (ready.bench !== 'ready') {
    child.kill('SIGKILL');
    throw new Error(`${name} failed to start: ${failure ?? 'no reason given'}`);
  }

  return {
    name,
    pid: child.pid!,
    info: ready.info,
    async stats() {
      const reply = next(['stats'], 10_000);
      command('stats');
      const message = await reply;
      if (message.bench !== 'stats') throw new Error(`${name}: unexpected ${message.bench}`);
      return message.stats;
    },
    resetPeak() {
      command('reset-peak');
    },
    async stop() {
      if (exited) return null;
      const stopped = next(['stopped', 'failed'], STOP_TIMEOUT_MS).catch(() => null);
      command('stop');
      const message = await stopped;
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exit;
      clearTimeout(timer);
      return message?.bench === 'stopped' ? message.stats : null;
    },
  };
}
