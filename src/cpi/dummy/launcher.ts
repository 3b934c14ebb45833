// Starts the dummy CPI's agent processes from a small helper process instead of the director.
// child_process.spawn is synchronous until the child has exec'd: from the director (200 MB, busy
// while dozens of agents boot on a small machine) each spawn blocked its event loop ~50-90 ms, so
// creating 100 VMs stalled the director for 5-9 s. The launcher is one tiny Node process per
// director, fed JSON lines on stdin, answering `{id, pid}` or `{id, error}` on stdout. It exits
// when the director does (stdin closes); the agents it started are detached and live on.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface LaunchRequest {
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** stdout and stderr are appended to this file. */
  logPath: string;
}

// Plain CommonJS run with `node -e`: nothing to build, starts in ~50 ms.
const LAUNCHER_SOURCE = `
process.title = 'capstan-dummy-cpi-launcher';
const { spawn } = require('child_process');
const { openSync, closeSync } = require('fs');
const reply = (msg) => process.stdout.write(JSON.stringify(msg) + '\\n');
require('readline').createInterface({ input: process.stdin }).on('line', (line) => {
  let req;
  try { req = JSON.parse(line); } catch { return; }
  let fd;
  try {
    fd = openSync(req.logPath, 'a');
    const child = spawn(req.command, req.args, { cwd: req.cwd, env: req.env, detached: true, stdio: ['ignore', fd, fd] });
    child.once('spawn', () => { child.unref(); reply({ id: req.id, pid: child.pid }); });
    child.once('error', (err) => reply({ id: req.id, error: err.message }));
  } catch (err) {
    reply({ id: req.id, error: err.message });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}).on('close', () => process.exit(0));
`;

interface Pending {
  resolve(pid: number): void;
  reject(err: Error): void;
}

interface Launcher {
  child: ChildProcess;
  pending: Map<number, Pending>;
  /** Keeps the process alive while answers are awaited, and only then. */
  hold(waiting: boolean): void;
}

let launcher: Launcher | undefined;
let nextId = 1;

function startLauncher(): Launcher {
  const child = spawn(process.execPath, ['-e', LAUNCHER_SOURCE], { stdio: ['pipe', 'pipe', 'inherit'], env: process.env });
  const pending = new Map<number, Pending>();
  const stdout = child.stdout as unknown as { ref(): void; unref(): void };
  const started: Launcher = { child, pending, hold: (waiting) => (waiting ? stdout.ref() : stdout.unref()) };
  const gone = (err: Error) => {
    if (launcher === started) launcher = undefined;
    for (const waiter of pending.values()) waiter.reject(err);
    pending.clear();
  };
  child.once('error', gone);
  child.once('exit', (code, signal) => gone(new Error(`The agent launcher exited (${signal ?? code})`)));
  child.stdin!.on('error', () => undefined); // a dead launcher is reported by 'exit'
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const msg = JSON.parse(line) as { id: number; pid?: number; error?: string };
    const waiter = pending.get(msg.id);
    pending.delete(msg.id);
    if (pending.size === 0) started.hold(false);
    if (msg.pid !== undefined) waiter?.resolve(msg.pid);
    else waiter?.reject(new Error(msg.error ?? 'unknown launcher error'));
  });
  // The launcher must not keep the director (or a test) alive: it ends when our stdin end closes.
  child.unref();
  started.hold(false);
  (child.stdin as unknown as { unref(): void }).unref();
  return started;
}

/** Starts the command detached (its own session and process group) and resolves with its pid. */
export function launchDetached(request: LaunchRequest): Promise<number> {
  launcher ??= startLauncher();
  const { child, pending, hold } = launcher;
  const id = nextId++;
  return new Promise<number>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    hold(true);
    child.stdin!.write(JSON.stringify({ id, ...request }) + '\n');
  });
}
