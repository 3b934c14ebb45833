import { join } from 'node:path';
import type { AgentServices } from '../services.js';
import { specJobs } from '../applier/spec.js';
import { ScriptRun, type ScriptOutcome } from '../scripts.js';
import { stringArg, type Action } from './action.js';

/** Runs jobs/<name>/bin/run and returns its output; a non-zero exit is still a result (§2.8). */
export class RunErrandAction implements Action {
  readonly name = 'run_errand';
  readonly isAsynchronous = true;
  readonly requiredArgs = 0;
  private readonly script = new ScriptRun();

  constructor(private readonly services: AgentServices) {}

  async run(args: unknown[]): Promise<{ stdout: string; stderr: string; exit_code: number }> {
    const spec = await this.services.specStore.read();
    const job = spec.job && 'name' in spec.job ? spec.job : undefined;
    let name: string;
    if (args.length > 0 && stringArg(args, 0) !== '') {
      name = stringArg(args, 0);
      if (!specJobs(spec).some((j) => j.name === name)) throw new Error(`Could not find errand ${name}`);
    } else {
      name = job?.template ?? '';
      if (!name) throw new Error('At least one job template is required to run an errand');
    }
    const outcome: ScriptOutcome = await this.script.run(join(this.services.paths.jobs, name, 'bin', 'run'));
    return { stdout: outcome.stdout, stderr: outcome.stderr, exit_code: outcome.exitCode };
  }

  async cancel(): Promise<void> {
    this.script.cancel();
  }
}
