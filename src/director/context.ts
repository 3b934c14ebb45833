// The seam between the director's core (API, DB, task runner) and the work a task does
// (deploy, delete, vms). Task jobs receive a TaskContext and a Director and nothing else.
import type { Kysely } from 'kysely';
import type { Logger } from '../common/logging.js';
import type { Blobstore } from '../blobstore/blobstore.js';
import type { Cpi } from '../cpi/cpi.js';
import type { DirectorConfig } from './config.js';
import type { Database } from './db/schema.js';
import type { AgentClientFactory } from './agent-client.js';
import type { NatsAuthorization } from './nats-auth/sync.js';
import type { CpiRegistry } from './cpis.js';

/** A stage of the task's event log (director-api.md §4.3). */
export interface EventStage {
  /** Emits started, runs fn, then finished (or failed with data.error, and rethrows). */
  track<T>(task: string, fn: (step: EventStep) => Promise<T>): Promise<T>;
}

export interface EventStep {
  /** Emits an in_progress event with data.status (e.g. "executing pre-start"). */
  status(text: string): void;
}

export interface EventLog {
  beginStage(stage: string, total: number | null, tags?: string[]): EventStage;
  warning(message: string): void;
}

export interface TaskContext {
  taskId: number;
  username: string;
  events: EventLog;
  /** Writes to the task's debug log (type=debug). */
  debug: Logger;
  /** Appends one line to the task's result output (type=result). */
  appendResult(line: string): Promise<void>;
  /** Throws TaskCancelled when the task was cancelled; also bumps checkpoint_time. */
  checkpoint(): Promise<void>;
}

export interface Director {
  config: DirectorConfig;
  db: Kysely<Database>;
  blobstore: Blobstore;
  /** The default CPI (the director config's); use cpiRegistry(director) (cpis.ts) to pick a VM's or an AZ's CPI. */
  cpi: Cpi;
  cpiName: string;
  /** The default CPI plus the cpi-config's named CPIs (src/director/cpis.ts). */
  cpis?: CpiRegistry;
  agents: AgentClientFactory;
  log: Logger;
  /** nats-server authorization kept in step with the VMs (absent when the config has none). */
  natsAuth?: NatsAuthorization;
}

/** What a task job (one per task type) looks like; its return value becomes the task `result`. */
export type TaskJob = (director: Director, task: TaskContext, payload: any) => Promise<string>;

export class TaskCancelled extends Error {
  constructor() {
    super('task cancelled');
  }
}
