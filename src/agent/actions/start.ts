import { writeFile } from 'node:fs/promises';
import type { AgentServices } from '../services.js';
import { installedJobs } from '../applier/applier.js';
import { specJobs } from '../applier/spec.js';
import type { Action } from './action.js';

/** Synchronous: writes job monit files, reloads monit, starts the vcap services; does not wait (§2.4). */
export class StartAction implements Action {
  readonly name = 'start';
  readonly isAsynchronous = false;
  readonly requiredArgs = 0;

  constructor(private readonly services: AgentServices) {}

  async run(): Promise<string> {
    const { supervisor, specStore, paths } = this.services;
    const jobs = await installedJobs(paths, specJobs(await specStore.read()));
    await supervisor.writeJobConfigs(jobs);
    await supervisor.reload();
    await supervisor.start();
    await writeFile(paths.health, JSON.stringify({ state: await supervisor.jobState() }));
    return 'started';
  }
}
