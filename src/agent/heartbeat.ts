// Heartbeats (§3.1): first one at start, then every 30 s (CAPSTAN_HEARTBEAT_INTERVAL_MS overrides it
// for tests); each also refreshes /var/vcap/instance/health.json.
import { writeFile } from 'node:fs/promises';
import type { Heartbeat, Vitals } from '../common/protocol.js';
import type { Logger } from '../common/logging.js';
import type { SpecStore } from './applier/spec.js';
import type { JobSupervisor } from './supervisor/job-supervisor.js';

export const DEFAULT_HEARTBEAT_INTERVAL_MS = 30_000;

export interface HeartbeatDeps {
  specStore: SpecStore;
  supervisor: JobSupervisor;
  vitals(): Promise<Vitals>;
  healthPath: string;
}

export async function buildHeartbeat(deps: HeartbeatDeps): Promise<Heartbeat> {
  // The supervisor calls can wait (for monit to come up at boot); the spec is read after them so that
  // the heartbeat never pairs an old spec with the processes of a newer one.
  const jobState = await deps.supervisor.jobState();
  const numberOfProcesses = await deps.supervisor.numberOfProcesses();
  const vitals = await deps.vitals();
  const spec = await deps.specStore.read();
  const job = spec.job && 'name' in spec.job ? spec.job.name : null;
  const heartbeat: Heartbeat = {
    deployment: spec.deployment ?? '',
    job: job ?? null,
    index: typeof spec.index === 'number' ? spec.index : null,
    job_state: jobState,
    vitals,
    node_id: spec.id ?? '',
    number_of_processes: numberOfProcesses,
  };
  await writeFile(deps.healthPath, JSON.stringify({ state: heartbeat.job_state }));
  return heartbeat;
}

export function heartbeatIntervalMs(env: NodeJS.ProcessEnv = process.env): number {
  const fromEnv = Number(env.CAPSTAN_HEARTBEAT_INTERVAL_MS);
  return Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : DEFAULT_HEARTBEAT_INTERVAL_MS;
}

/** Later heartbeats are retried this often, 1 s apart, before the agent gives up (§3.1). */
export const HEARTBEAT_ATTEMPTS = 60;

/**
 * Sends heartbeats until stopped: the first right away (one attempt), then every interval with up to
 * 60 attempts 1 s apart. A heartbeat that cannot be built or sent is fatal: the agent exits and its
 * supervisor restarts it, as bosh-agent does.
 */
export class Heartbeater {
  private timer?: NodeJS.Timeout;
  private sending = false;
  private stopped = false;

  constructor(
    private readonly deps: HeartbeatDeps,
    private readonly publish: (heartbeat: Heartbeat) => Promise<void>,
    private readonly logger: Logger,
    private readonly onFatal: (err: Error) => void,
    private readonly intervalMs = heartbeatIntervalMs(),
    private readonly retryDelayMs = 1000,
  ) {}

  async start(): Promise<void> {
    await this.beat(1);
    this.timer = setInterval(() => void this.beat(HEARTBEAT_ATTEMPTS), this.intervalMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async beat(attempts: number): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      for (let attempt = 1; !this.stopped; attempt++) {
        try {
          return await this.publish(await buildHeartbeat(this.deps));
        } catch (err) {
          this.logger.error({ err: (err as Error).message, attempt }, 'Failed to send heartbeat');
          if (attempt >= attempts) {
            this.stop();
            return this.onFatal(new Error(`Sending heartbeat: ${(err as Error).message}`));
          }
          await new Promise((resolve) => setTimeout(resolve, this.retryDelayMs));
        }
      }
    } finally {
      this.sending = false;
    }
  }
}
