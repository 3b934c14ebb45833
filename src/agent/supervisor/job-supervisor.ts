// The JobSupervisor seam and its monit implementation: job monit files (§6.2), reload (§6.3),
// start/stop/unmonitor of the `vcap` service group, job_state (§6.4) and processes (§6.5).
import { readdir, copyFile, rm, mkdir, writeFile, access } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobState, ProcessState } from '../../common/protocol.js';
import type { Logger } from '../../common/logging.js';
import type { VcapPaths } from '../platform/paths.js';
import { sleep, type MonitClient } from './monit-client.js';
import type { MonitProcess } from './monit-process.js';
import { jobStateOf, processesOf, vcapServices, type MonitService } from './monit-status.js';

export interface SupervisedJob {
  name: string;
  /** Installed job directory (holds `monit` and optional `*.monit` files). */
  dir: string;
}

export interface JobSupervisor {
  /** Replaces all job monit files with those of `jobs` (spec order). */
  writeJobConfigs(jobs: SupervisedJob[]): Promise<void>;
  removeAllJobs(): Promise<void>;
  reload(): Promise<void>;
  start(): Promise<void>;
  /** Protocol >= 3: stop and wait until no service is monitored or pending. */
  stopAndWait(): Promise<void>;
  /** Protocol <= 2: ask monit to stop every service, do not wait. */
  stop(): Promise<void>;
  unmonitor(): Promise<void>;
  jobState(): Promise<JobState>;
  /** Throws when monit cannot be asked (get_state fails then). */
  processes(): Promise<ProcessState[]>;
  /** null when monit cannot be asked (heartbeat number_of_processes). */
  numberOfProcesses(): Promise<number | null>;
}

export interface MonitSupervisorOptions {
  pollMs?: number;
  /** stop's single timer (bosh-agent: 5 minutes). */
  stopTimeoutMs?: number;
  /** One of the 10 incarnation checks per reload attempt (bosh-agent: 1 s). */
  reloadCheckMs?: number;
}

export class MonitJobSupervisor implements JobSupervisor {
  private readonly pollMs: number;
  private readonly stopTimeoutMs: number;
  private readonly reloadCheckMs: number;

  constructor(
    private readonly paths: VcapPaths,
    private readonly client: MonitClient,
    private readonly daemon: MonitProcess,
    private readonly logger: Logger,
    options: MonitSupervisorOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 500;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 5 * 60_000;
    this.reloadCheckMs = options.reloadCheckMs ?? 1000;
  }

  async writeJobConfigs(jobs: SupervisedJob[]): Promise<void> {
    await this.removeAllJobs();
    await mkdir(this.paths.monitJob, { recursive: true });
    for (let i = 0; i < jobs.length; i++) {
      // The last job gets index 0000 (§6.2).
      const job = jobs[jobs.length - 1 - i];
      const prefix = `${String(i).padStart(4, '0')}_${job.name}`;
      const files = await readdir(job.dir).catch(() => [] as string[]);
      if (files.includes('monit')) await copyFile(join(job.dir, 'monit'), join(this.paths.monitJob, `${prefix}.monitrc`));
      for (const file of files.filter((f) => f.endsWith('.monit')).sort()) {
        await copyFile(join(job.dir, file), join(this.paths.monitJob, `${prefix}_${file.slice(0, -'.monit'.length)}.monitrc`));
      }
    }
  }

  async removeAllJobs(): Promise<void> {
    await rm(this.paths.monitJob, { recursive: true, force: true });
    await mkdir(this.paths.monitJob, { recursive: true });
  }

  async reload(): Promise<void> {
    const before = (await this.client.status()).incarnation;
    let after = before;
    // bosh-agent checks 10 times 1 s apart; polling faster within the same budget saves ~1 s per reload.
    const step = Math.min(100, this.reloadCheckMs);
    // The incarnation is monit's (re)start time in seconds: a reload within the same second would
    // not change it, so never reload in the second of the previous one.
    const sameSecond = (Number(before) + 1) * 1000 - Date.now();
    if (Number.isFinite(sameSecond) && sameSecond > 0) await sleep(sameSecond);
    for (let attempt = 0; attempt < 3; attempt++) {
      // A monit that cannot take the new configuration keeps its incarnation: that is the failure reported.
      await this.daemon.restart().catch((err: Error) => this.logger.error({ err: err.message, attempt }, 'Restarting monit'));
      for (let waited = 0; waited < 10 * this.reloadCheckMs; waited += step) {
        await sleep(step);
        after = await this.client.status().then((s) => s.incarnation, () => before);
        if (after !== before) return void this.logger.info({ before, after }, 'Reloaded monit');
      }
    }
    throw new Error(`Failed to reload monit: before=${before} after=${after}`);
  }

  async start(): Promise<void> {
    for (const service of await this.services()) await this.client.serviceAction(service.name, 'start');
    await rm(this.paths.monitStopped, { force: true });
  }

  async stop(): Promise<void> {
    await this.remonitorForStop(Date.now() + this.stopTimeoutMs);
    for (const service of await this.services()) await this.client.serviceAction(service.name, 'stop');
    await this.markStopped();
  }

  async stopAndWait(): Promise<void> {
    const deadline = Date.now() + this.stopTimeoutMs;
    const pending = await this.waitUntil(deadline, (s) => s.pendingAction === 0);
    if (pending.length > 0) {
      throw new Error(`Timed out waiting for services '${names(pending)}' to no longer be pending after ${duration(this.stopTimeoutMs)}`);
    }
    await this.remonitorForStop(deadline);
    await this.stopGroup();
    await this.markStopped();
    const running = await this.waitUntil(deadline, (s) => s.monitor === 0 && s.pendingAction === 0);
    const errored = running.filter((s) => s.status !== 0 && s.statusMessage !== '');
    if (errored.length > 0) throw new Error(`Stopping services '[${names(errored)}]' errored`);
    if (running.length > 0) throw new Error(`Timed out waiting for services '${names(running)}' to stop after ${duration(this.stopTimeoutMs)}`);
  }

  /** `monit stop -g vcap` as bosh-agent does; if the CLI fails, log `monit summary` and stop over HTTP. */
  private async stopGroup(): Promise<void> {
    // monit's CLI fails for a group without services (a VM without jobs): nothing to stop then
    if ((await this.services()).length === 0) return;
    try {
      await this.daemon.control(['stop', '-g', 'vcap']);
    } catch (err) {
      const summary = await this.daemon.control(['summary']).catch((e: Error) => e.message);
      this.logger.error({ err: (err as Error).message, summary }, 'monit stop -g vcap failed; stopping services over HTTP');
      for (const service of await this.services()) await this.client.serviceAction(service.name, 'stop');
    }
  }

  async unmonitor(): Promise<void> {
    for (const service of await this.services()) await this.client.serviceAction(service.name, 'unmonitor');
  }

  async jobState(): Promise<JobState> {
    let services: MonitService[];
    try {
      services = await this.services();
    } catch {
      return 'unknown';
    }
    if (await exists(this.paths.monitStopped)) return 'stopped';
    return jobStateOf(services);
  }

  async processes(): Promise<ProcessState[]> {
    return processesOf(await this.services());
  }

  async numberOfProcesses(): Promise<number | null> {
    return this.services().then((s) => s.length, () => null);
  }

  private async services(): Promise<MonitService[]> {
    return vcapServices(await this.client.status());
  }

  /**
   * Debian's monit (5.33) skips the stop program of an unmonitored service, unlike BOSH's monit, so
   * the services drain unmonitored would keep running: monitor them again first. Not after our own
   * stop (marker present): monitoring a stopped service would start it.
   */
  private async remonitorForStop(deadline: number): Promise<void> {
    if (await exists(this.paths.monitStopped)) return;
    const unmonitored = (await this.services()).filter((s) => s.monitor === 0);
    if (unmonitored.length > 0) this.logger.info({ services: names(unmonitored) }, 'Monitoring services again so that stop stops them');
    for (const service of unmonitored) await this.client.serviceAction(service.name, 'monitor');
    const pending = new Set(unmonitored.map((s) => s.name));
    if (pending.size > 0) await this.waitUntil(deadline, (s) => !pending.has(s.name) || s.monitor !== 0);
  }

  private async markStopped(): Promise<void> {
    await writeFile(this.paths.monitStopped, '');
  }

  /** Polls until every vcap service satisfies `done` or the deadline passes; returns the laggards. */
  private async waitUntil(deadline: number, done: (s: MonitService) => boolean): Promise<MonitService[]> {
    for (;;) {
      const laggards = (await this.services()).filter((s) => !done(s));
      if (laggards.length === 0 || Date.now() >= deadline) return laggards;
      await sleep(this.pollMs);
    }
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** bosh-agent's texts say "5 minutes"; a configured timeout is named as it is. */
export function duration(ms: number): string {
  const unit = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (ms % 60_000 === 0) return unit(ms / 60_000, 'minute');
  if (ms % 1000 === 0) return unit(ms / 1000, 'second');
  return unit(ms, 'millisecond');
}

function names(services: MonitService[]): string {
  return services.map((s) => s.name).join(', ');
}

