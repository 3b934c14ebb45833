// Starting and reloading the monit daemon itself. Two modes (Capstan agent.json "Monit"):
//  - runit: the stemcell's /etc/sv/monit service, linked (down) into /etc/service, started with `sv`;
//  - spawn: the agent spawns `monit -I -c <base>/monit/monitrc` with a generated monitrc (dummy CPI, tests).
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFile, symlink, lstat, mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../common/logging.js';
import type { VcapPaths } from '../platform/paths.js';
import { raceTimeout, sleep } from './monit-client.js';

const execFileP = promisify(execFile);

export interface MonitProcess {
  /** Brings the daemon up (retrying for up to 10 s). */
  start(): Promise<void>;
  /** Makes monit re-read its configuration (callers wait for a new incarnation). */
  restart(): Promise<void>;
  /** Stops the daemon if this agent owns it (spawn mode); no-op for runit. */
  shutdown(): Promise<void>;
  /** Runs the monit CLI against this daemon's control file (`stop -g vcap`, `summary`); returns stdout. */
  control(args: string[]): Promise<string>;
}

async function monitCli(monitrc: string, args: string[]): Promise<string> {
  try {
    return (await execFileP('monit', ['-c', monitrc, ...args], { timeout: 60_000 })).stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string; stdout?: string };
    throw new Error(`Running monit ${args.join(' ')}: ${(e.stderr || e.stdout || e.message).trim()}`);
  }
}

async function retry(times: number, delayMs: number, fn: () => Promise<void>): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= times) throw err;
      await sleep(delayMs);
    }
  }
}

export class RunitMonit implements MonitProcess {
  constructor(
    private readonly svDir = '/etc/sv/monit',
    private readonly serviceLink = '/etc/service/monit',
    /** The stemcell's control file (see src/stemcell/builder.ts). */
    private readonly monitrc = '/var/vcap/bosh/etc/monitrc',
  ) {}

  control(args: string[]): Promise<string> {
    return monitCli(this.monitrc, args);
  }

  async start(): Promise<void> {
    // Stemcells link the service (down) at build time, so runsv is already there; older ones did not,
    // and runsvdir notices a new link only within ~5 s. sv fails until runsv runs: retry briefly.
    const existing = await lstat(this.serviceLink).catch(() => undefined);
    if (!existing) await symlink(this.svDir, this.serviceLink);
    await retry(100, 100, async () => void (await execFileP('sv', ['start', this.serviceLink])));
  }

  async restart(): Promise<void> {
    await execFileP('sv', ['restart', 'monit']);
  }

  async shutdown(): Promise<void> {}
}

export interface SpawnMonitOptions {
  port: number;
  alertSmtpPort: number;
  pollSeconds?: number;
  /**
   * Leave the job monit files out until the next reload. A fresh monit with `set alert` does not
   * restore "not monitored" from its state file and would start stopped jobs again, so an agent
   * that finds the `stopped` marker starts monit without them (§6.4: stopped persists).
   */
  withoutJobs?: boolean;
}

export class SpawnedMonit implements MonitProcess {
  private child?: ChildProcess;
  readonly monitrc: string;

  constructor(
    private readonly paths: VcapPaths,
    private readonly options: SpawnMonitOptions,
    private readonly logger: Logger,
  ) {
    this.monitrc = join(paths.monit, 'monitrc');
  }

  /** Same shape as the stemcell's /var/vcap/bosh/etc/monitrc, rooted at the base dir. */
  renderMonitrc(includeJobs = true): string {
    const m = this.paths.monit;
    return [
      `set daemon ${this.options.pollSeconds ?? 10}`,
      `set logfile ${join(m, 'monit.log')}`,
      `set pidfile ${join(m, 'monit.pid')}`,
      `set idfile ${join(m, 'monit.id')}`,
      `set statefile ${join(m, 'monit.state')}`,
      `set mailserver 127.0.0.1 port ${this.options.alertSmtpPort}`,
      'set alert agent@local',
      `set httpd port ${this.options.port} and use address 127.0.0.1`,
      `  allow cleartext ${this.paths.monitUser}`,
      `include ${join(m, '*.monitrc')}`,
      ...(includeJobs ? [`include ${join(this.paths.monitJob, '*.monitrc')}`] : []),
      '',
    ].join('\n');
  }

  async start(): Promise<void> {
    await this.stopLeftover();
    await mkdir(this.paths.monitJob, { recursive: true });
    await writeFile(this.monitrc, this.renderMonitrc(!this.options.withoutJobs), { mode: 0o600 });
    const log = await open(join(this.paths.monit, 'monit.stdout.log'), 'a');
    const child = spawn('monit', ['-I', '-c', this.monitrc], { stdio: ['ignore', log.fd, log.fd] });
    await log.close();
    child.on('exit', (code, signal) => {
      if (this.child === child) this.logger.warn({ code, signal }, 'monit exited');
      if (this.child === child) this.child = undefined;
    });
    child.on('error', (err) => this.logger.error({ err }, 'monit failed to start'));
    this.child = child;
  }

  /**
   * A monit left by an agent that died without cleaning up still holds the port: stop it. Its job
   * processes keep running and the new monit finds them again through their pidfiles.
   */
  private async stopLeftover(): Promise<void> {
    const pid = Number((await readFile(join(this.paths.monit, 'monit.pid'), 'utf8').catch(() => '')).trim());
    if (!pid || !isAlive(pid)) return;
    // The pid may have been reused: only stop a monit running our monitrc.
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.includes('monit') || !cmdline.includes(this.monitrc)) return;
    this.logger.info({ pid }, 'Stopping monit left by a previous agent');
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 50 && isAlive(pid); i++) await sleep(100);
  }

  control(args: string[]): Promise<string> {
    return monitCli(this.monitrc, args);
  }

  async restart(): Promise<void> {
    await writeFile(this.monitrc, this.renderMonitrc(), { mode: 0o600 });
    await execFileP('monit', ['-c', this.monitrc, 'reload']);
  }

  async shutdown(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    this.child = undefined;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await Promise.race([exited, raceTimeout(10_000)]);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
