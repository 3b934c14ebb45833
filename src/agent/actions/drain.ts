import { join } from 'node:path';
import type { ApplySpec } from '../../common/protocol.js';
import type { AgentServices } from '../services.js';
import { specJobs } from '../applier/spec.js';
import { exists } from '../applier/installer.js';
import { ScriptRun, aggregateFailure } from '../scripts.js';
import { sleep } from '../supervisor/monit-client.js';
import { objectArg, stringArg, type Action } from './action.js';

interface DrainParams {
  jobChange: string;
  hashChange: string;
  packages: string[];
  nextState?: string;
}

/** Unmonitors services and runs every job's bin/drain in parallel; always answers 0 (§2.6). */
export class DrainAction implements Action {
  readonly name = 'drain';
  readonly isAsynchronous = true;
  readonly requiredArgs = 1;
  private readonly runs = new Set<ScriptRun>();
  private cancelled = false;

  constructor(private readonly services: AgentServices) {}

  async run(args: unknown[]): Promise<number> {
    const type = stringArg(args, 0);
    const newSpec = args.length > 1 && args[1] !== null ? objectArg<ApplySpec>(args, 1, 'applyspec.V1ApplySpec') : undefined;
    const current = await this.services.specStore.read();
    const params = await this.params(type, current, newSpec);
    await this.services.supervisor.unmonitor();
    const jobs = specJobs(current).map((j) => j.name);
    const results = await Promise.all(jobs.map((job) => this.drainJob(job, params, current.persistent_disk ?? 0)));
    const failed = results.filter((r) => r.error).map((r) => r.job);
    if (this.cancelled) throw new Error('Script was cancelled by user request');
    if (failed.length > 0) throw aggregateFailure('drain scripts', failed, results.filter((r) => !r.error).map((r) => r.job));
    return 0;
  }

  async cancel(): Promise<void> {
    this.cancelled = true;
    for (const run of this.runs) run.cancel();
  }

  private async params(type: string, current: Partial<ApplySpec>, next: ApplySpec | undefined): Promise<DrainParams> {
    const nextState = next ? JSON.stringify({ persistent_disk: next.persistent_disk ?? 0 }) : undefined;
    if (type === 'update') {
      if (!next) throw new Error('Drain update requires new spec');
      const hashChange = !current.configuration_hash ? 'hash_new' : current.configuration_hash === next.configuration_hash ? 'hash_unchanged' : 'hash_changed';
      const oldPackages = current.packages ?? {};
      const packages = Object.entries(next.packages ?? {})
        .filter(([name, pkg]) => oldPackages[name]?.sha1 !== pkg.sha1)
        .map(([name]) => name)
        .sort();
      return { jobChange: specJobs(current).length === 0 ? 'job_new' : 'job_changed', hashChange, packages, nextState };
    }
    if (type === 'shutdown') {
      await this.services.notifyShutdown();
      return { jobChange: 'job_shutdown', hashChange: 'hash_unchanged', packages: [], nextState };
    }
    throw new Error(`Unexpected call with drain type '${type}'`);
  }

  private async drainJob(job: string, params: DrainParams, persistentDisk: number): Promise<{ job: string; error?: Error }> {
    const script = join(this.services.paths.jobs, job, 'bin', 'drain');
    if (!(await exists(script))) return { job };
    const env: Record<string, string> = { BOSH_JOB_STATE: JSON.stringify({ persistent_disk: persistentDisk }) };
    if (params.nextState) env.BOSH_JOB_NEXT_STATE = params.nextState;
    let args = [params.jobChange, params.hashChange, ...params.packages];
    try {
      for (;;) {
        const seconds = await this.runOnce(script, args, env);
        await sleep(Math.abs(seconds) * 1000);
        if (seconds >= 0 || this.cancelled) return { job };
        // Dynamic drain: ask again with job_check_status until the script answers N >= 0.
        args = ['job_check_status', 'hash_unchanged'];
        delete env.BOSH_JOB_NEXT_STATE;
      }
    } catch (err) {
      return { job, error: err as Error };
    }
  }

  private async runOnce(script: string, args: string[], env: Record<string, string>): Promise<number> {
    const run = new ScriptRun();
    this.runs.add(run);
    try {
      const outcome = await run.run(script, { args, env });
      if (run.wasCancelled) throw new Error('Script was cancelled by user request');
      const text = outcome.stdout.trim();
      if (!/^[-+]?\d+$/.test(text)) throw new Error('Script did not return a signed integer');
      return Number(text);
    } finally {
      this.runs.delete(run);
    }
  }
}
