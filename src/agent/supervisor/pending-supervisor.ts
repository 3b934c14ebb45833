// A JobSupervisor that is not there yet: the agent answers the mbus while monit is still coming up
// (a fresh VM's first ping must not wait for monit), and every call that needs monit waits for it.
import type { JobState, ProcessState } from '../../common/protocol.js';
import type { JobSupervisor, SupervisedJob } from './job-supervisor.js';

export class PendingJobSupervisor implements JobSupervisor {
  constructor(private readonly ready: Promise<JobSupervisor>) {
    ready.catch(() => undefined); // the agent handles a failed start; calls still see the error
  }

  async writeJobConfigs(jobs: SupervisedJob[]): Promise<void> {
    return (await this.ready).writeJobConfigs(jobs);
  }
  async removeAllJobs(): Promise<void> {
    return (await this.ready).removeAllJobs();
  }
  async reload(): Promise<void> {
    return (await this.ready).reload();
  }
  async start(): Promise<void> {
    return (await this.ready).start();
  }
  async stopAndWait(): Promise<void> {
    return (await this.ready).stopAndWait();
  }
  async stop(): Promise<void> {
    return (await this.ready).stop();
  }
  async unmonitor(): Promise<void> {
    return (await this.ready).unmonitor();
  }
  async jobState(): Promise<JobState> {
    return (await this.ready).jobState();
  }
  async processes(): Promise<ProcessState[]> {
    return (await this.ready).processes();
  }
  async numberOfProcesses(): Promise<number | null> {
    return (await this.ready).numberOfProcesses();
  }
}
