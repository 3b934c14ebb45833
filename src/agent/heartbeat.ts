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
  const spec = await deps.specStore.read();
  const job = spec.job && 'name' in spec.job ? spec.job.name : null;
  const heartbeat: Heartbeat = {
    deployment: spec.deployment ?? '',
    job: job ?? null,
    index: typeof spec.index === 'number' ? spec.index : null,
    job_state: await deps.supervisor.jobState(),
    vitals: await deps.vitals(),
    node_id: spec.id ?? '',
    number_of_processes: await deps.supervisor.numberOfProcesses(),
  };
  await writeFile(deps.healthPath, JSON.stringify({ state: heartbeat.job_state }));
  return heartbeat;
}

export function heartbeatIntervalMs(env: NodeJS.ProcessEnv = process.env): number {
  const fromEnv = Number(env.CAPSTAN_HEARTBEAT_INTERVAL_MS);
  return Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : DEFAULT_HEARTBEAT_INTERVAL_MS;
}

/** Sends heartbeats until stopped; a failed heartbeat is logged and the next one tried on schedule. */
export class Heartbeater {
  private timer?: NodeJS.Timeout;
  private sending = false;

  constructor(
    private readonly deps: HeartbeatDeps,
    private readonly publish: (heartbeat: Heartbeat) => Promise<void>,
    private readonly logger: Logger,
    private readonly intervalMs = heartbeatIntervalMs(),
  ) {}

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async beat(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      await this.publish(await buildHeartbeat(this.deps));
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, 'Failed to send heartbeat');
    } finally {
      this.sending = false;
    }
  }
}
