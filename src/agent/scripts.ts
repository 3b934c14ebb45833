// Running job scripts (drain, run_script hooks, errands): agent env + a fixed PATH, own process
// group so cancel can signal the whole tree, output captured or appended to log files.
import { spawn, type ChildProcess } from 'node:child_process';
import { open, mkdir, chmod } from 'node:fs/promises';
import { join } from 'node:path';

export const SCRIPT_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

export interface ScriptOutcome {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface ScriptOptions {
  args?: string[];
  env?: Record<string, string>;
  /** Append output to these files instead of only capturing it. */
  logDir?: string;
  logName?: string;
  nice?: boolean;
  cwd?: string;
}

/** A script run that can be cancelled: SIGTERM to its process group, SIGKILL after killAfterMs. */
export class ScriptRun {
  private child?: ChildProcess;
  private cancelled = false;

  get wasCancelled(): boolean {
    return this.cancelled;
  }

  async run(path: string, options: ScriptOptions = {}): Promise<ScriptOutcome> {
    const command = options.nice ? 'nice' : path;
    const args = options.nice ? ['-n', '5', path, ...(options.args ?? [])] : (options.args ?? []);
    const env = { ...process.env, PATH: SCRIPT_PATH, ...(options.env ?? {}) };
    const logs = options.logDir ? await openLogs(options.logDir, options.logName ?? 'script') : undefined;
    try {
      return await new Promise<ScriptOutcome>((resolve, reject) => {
        const child = spawn(command, args, { env, cwd: options.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
        this.child = child;
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout!.on('data', (c: Buffer) => {
          out.push(c);
          void logs?.stdout.write(c);
        });
        child.stderr!.on('data', (c: Buffer) => {
          err.push(c);
          void logs?.stderr.write(c);
        });
        child.on('error', reject);
        child.on('close', (code, signal) => {
          const exitCode = code ?? (signal ? 128 + signalNumber(signal) : 1);
          resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), exitCode });
        });
      });
    } finally {
      this.child = undefined;
      await logs?.stdout.close();
      await logs?.stderr.close();
    }
  }

  cancel(killAfterMs = 10_000): void {
    const child = this.child;
    if (!child?.pid) return;
    this.cancelled = true;
    signalGroup(child.pid, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), killAfterMs);
    timer.unref();
    child.once('close', () => clearTimeout(timer));
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGABRT: 6, SIGSEGV: 11, SIGPIPE: 13 };
  return numbers[signal] ?? 0;
}

async function openLogs(dir: string, name: string) {
  await mkdir(dir, { recursive: true, mode: 0o750 });
  await chmod(dir, 0o750);
  const stdout = await open(join(dir, `${name}.stdout.log`), 'a', 0o640);
  const stderr = await open(join(dir, `${name}.stderr.log`), 'a', 0o640);
  return { stdout, stderr };
}

/** "<f> of <n> <what> failed. Failed Jobs: a, b. Successful Jobs: c." */
export function aggregateFailure(what: string, failed: string[], succeeded: string[]): Error {
  const total = failed.length + succeeded.length;
  return new Error(`${failed.length} of ${total} ${what} failed. Failed Jobs: ${failed.join(', ')}. Successful Jobs: ${succeeded.join(', ')}.`);
}
