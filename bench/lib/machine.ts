import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';

/** CPU milliseconds every core of the machine has been busy since boot. */
export const machineBusyMs = () =>
  os.cpus().reduce((sum, { times }) => sum + times.user + times.nice + times.sys + times.irq, 0);

/** CPU microseconds this process has used. */
export const ownCpuMicros = () => {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
};

const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU microseconds per process id. */
export type ProcessesCpu = Map<number, number>;

/**
 * CPU microseconds of each live process that `match` picks by name and
 * command line, read from /proc; null where there is no /proc.
 */
export function processesCpu(match: (name: string, commandLine: string) => boolean): ProcessesCpu | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return null;
  }
  const cpu: ProcessesCpu = new Map();
  for (const pid of pids) {
    let stat: string;
    let commandLine: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (name) state …": the name may hold spaces, so split after its closing parenthesis.
    const close = stat.lastIndexOf(')');
    if (!match(stat.slice(stat.indexOf('(') + 1, close), commandLine)) continue;
    const fields = stat.slice(close + 2).split(' ');
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    cpu.set(Number(pid), ((Number(fields[11]) + Number(fields[12])) / clockTicks) * 1e6);
  }
  return cpu;
}

/** CPU microseconds used between two snapshots; a process gone by the second takes its share with it. */
export function cpuBetween(before: ProcessesCpu | null, after: ProcessesCpu | null): number {
  if (!before || !after) return Number.NaN;
  let micros = 0;
  for (const [pid, used] of after) micros += used - (before.get(pid) ?? 0);
  return micros;
}
