import { join } from 'node:path';
import type { AgentServices } from '../services.js';
import { specJobs } from '../applier/spec.js';
import { exists } from '../applier/installer.js';
import { ScriptRun, aggregateFailure } from '../scripts.js';
import { objectArg, stringArg, type Action } from './action.js';

/** Runs bin/<script> of every job that has it, in parallel, logging to sys/log/<job>/ (§2.7). */
export class RunScriptAction implements Action {
  readonly name = 'run_script';
  readonly isAsynchronous = true;
  readonly requiredArgs = 2;

  constructor(private readonly services: AgentServices) {}

  async run(args: unknown[]): Promise<Record<string, never>> {
    const script = stringArg(args, 0);
    const options = objectArg<{ env?: Record<string, string> }>(args, 1, 'action.RunScriptOptions');
    const { paths, specStore } = this.services;
    const jobs = specJobs(await specStore.read());
    const runnable: string[] = [];
    for (const job of jobs) if (await exists(join(paths.jobs, job.name, 'bin', script))) runnable.push(job.name);
    const results = await Promise.all(
      runnable.map(async (job) => {
        const outcome = await new ScriptRun()
          .run(join(paths.jobs, job, 'bin', script), { env: options.env ?? {}, logDir: join(paths.sysLog, job), logName: script, nice: true })
          .catch(() => ({ exitCode: -1 }));
        return { job, ok: outcome.exitCode === 0 };
      }),
    );
    const failed = results.filter((r) => !r.ok).map((r) => r.job);
    if (failed.length > 0) throw aggregateFailure(`${script} scripts`, failed, results.filter((r) => r.ok).map((r) => r.job));
    return {};
  }
}
