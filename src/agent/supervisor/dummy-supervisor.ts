// `-M dummy` and `-M dummy-nats` (bosh-agent's test supervisors): no monit, no job processes. Job
// state is `running` after start and `stopped` after stop (marker file, so it survives restarts);
// with dummy-nats the request `set_dummy_status` `[{"status":"failing"}]` overrides it.
import { rm, writeFile, access } from 'node:fs/promises';
import type { JobState, ProcessState } from '../../common/protocol.js';
import type { VcapPaths } from '../platform/paths.js';
import type { JobSupervisor, SupervisedJob } from './job-supervisor.js';

export class DummyJobSupervisor implements JobSupervisor {
  private jobs: SupervisedJob[] = [];
  private forcedState?: JobState;

  constructor(private readonly paths: VcapPaths) {}

  async writeJobConfigs(jobs: SupervisedJob[]): Promise<void> {
    this.jobs = jobs;
  }

  async removeAllJobs(): Promise<void> {
    this.jobs = [];
  }

  async reload(): Promise<void> {}

  async start(): Promise<void> {
    await rm(this.paths.monitStopped, { force: true });
  }

  async stopAndWait(): Promise<void> {
    await this.stop();
  }

  async stop(): Promise<void> {
    await writeFile(this.paths.monitStopped, '');
  }

  async unmonitor(): Promise<void> {}

  /** dummy-nats: what the director's test harness sets. */
  setStatus(state: string): void {
    this.forcedState = state === '' ? undefined : (state as JobState);
  }

  async jobState(): Promise<JobState> {
    if (this.forcedState) return this.forcedState;
    const stopped = await access(this.paths.monitStopped).then(() => true, () => false);
    return stopped ? 'stopped' : 'running';
  }

  async processes(): Promise<ProcessState[]> {
    return [];
  }

  async numberOfProcesses(): Promise<number | null> {
    return 0;
  }
}
