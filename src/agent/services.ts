// What actions may use: one object built by the agent at start (and by tests with fakes).
import type { AgentSettings, Vitals } from '../common/protocol.js';
import type { Logger } from '../common/logging.js';
import type { Applier } from './applier/applier.js';
import type { SpecStore } from './applier/spec.js';
import type { BlobManager } from './blobs.js';
import type { Compiler } from './compiler.js';
import type { TaskManager } from './mbus/task-manager.js';
import type { VcapPaths } from './platform/paths.js';
import type { JobSupervisor } from './supervisor/job-supervisor.js';

export interface AgentServices {
  paths: VcapPaths;
  settings(): AgentSettings;
  specStore: SpecStore;
  applier: Applier;
  supervisor: JobSupervisor;
  blobs: BlobManager;
  compiler: Compiler;
  tasks: TaskManager;
  vitals(): Promise<Vitals>;
  /** Publishes `hm.agent.shutdown.<agent_id>` (drain shutdown, §3.3). */
  notifyShutdown(): Promise<void>;
  logger: Logger;
}
