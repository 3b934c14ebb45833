// Detached child processes with pid files: started by `capstan up`, found again by the next
// `capstan up` (idempotence) and stopped by `capstan down`.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface DetachedProcess {
  command: string;
  args: string[];
  pidFile: string;
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export function startDetached(spec: DetachedProcess): number {
  mkdirSync(dirname(spec.pidFile), { recursive: true });
  mkdirSync(dirname(spec.logFile), { recursive: true });
  const log = openSync(spec.logFile, 'a', 0o600);
  try {
    const child = spawn(spec.command, spec.args, {
      detached: true, // own process group: survives the CLI and ^C in its terminal
      stdio: ['ignore', log, log],
      env: spec.env ?? process.env,
      cwd: spec.cwd,
    });
    if (child.pid === undefined) throw new Error(`Failed to start '${spec.command}'`);
    child.unref();
    writeFileSync(spec.pidFile, `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(log);
  }
}

export function readPidFile(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** True when pid is alive and its command line contains `marker` (guards against pid reuse). */
export function isProcessRunning(pid: number, marker: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/\) Z /.test(stat)) return false; // a zombie has exited already
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').includes(marker);
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

/** The pid recorded in pidFile when that process still runs, else undefined. */
export function runningPid(pidFile: string, marker: string): number | undefined {
  const pid = readPidFile(pidFile);
  return pid !== undefined && isProcessRunning(pid, marker) ? pid : undefined;
}

/** SIGTERM, wait up to graceMs, then SIGKILL; removes the pid file. Returns whether it was running. */
export async function stopProcess(pidFile: string, marker: string, graceMs = 10_000): Promise<boolean> {
  const pid = runningPid(pidFile, marker);
  if (pid !== undefined) {
    signal(pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && isProcessRunning(pid, marker)) await sleep(100);
    if (isProcessRunning(pid, marker)) {
      signal(pid, 'SIGKILL');
      while (isProcessRunning(pid, marker)) await sleep(50);
    }
  }
  rmSync(pidFile, { force: true });
  return pid !== undefined;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}
