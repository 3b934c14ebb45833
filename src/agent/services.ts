// What actions may use: one object built by the agent at start (and by tests with fakes).
import type { AgentSettings, Vitals } from '../common/protocol.js';
import type { Logger } from '../common/logging.js';
import type { Applier } from './applier/applier.js';
import type { SpecStore } from './applier/spec.js';
import type { BlobManager } from './blobs.js';
import type { Compiler } from './compiler.js';
import type { TaskManager } from './mbus/task-manager.js';
import type { DiskManager } from './platform/disks.js';
import type { VcapPaths } from './platform/paths.js';
import type { UpdateSettings } from './settings.js';
import type { JobSupervisor } from './supervisor/job-supervisor.js';

export type AgentPlatform = 'ubuntu' | 'dummy';

export interface AgentServices {
  platform: AgentPlatform;
  paths: VcapPaths;
  settings(): AgentSettings;
  /** Fetches the settings from the sources again (cached copy when they are gone). */
  reloadSettings(): Promise<AgentSettings>;
  updateSettings(): UpdateSettings;
  saveUpdateSettings(update: UpdateSettings): Promise<void>;
  /** Exits the agent process (code 0) after 1 s so that its supervisor restarts it; never resolves. */
  requestRestart(reason: string): Promise<never>;
  /**
   * Connects the mbus with the URLs and certificate `next` selects, without a restart; false when
   * the transport cannot (HTTPS mbus). Throws, leaving the old connection, when the new one fails.
   */
  reconnectMbus(next: UpdateSettings): Promise<boolean>;
  /** Transfers from now on use the blobstore `next` selects (a new credential), without a restart. */
  useBlobstore(next: UpdateSettings): void;
  /** CA trusted for signed-URL transfers. */
  blobstoreCa(): string | undefined;
  specStore: SpecStore;
  applier: Applier;
  supervisor: JobSupervisor;
  blobs: BlobManager;
  compiler: Compiler;
  disks: DiskManager;
  tasks: TaskManager;
  vitals(): Promise<Vitals>;
  /** Publishes `hm.agent.shutdown.<agent_id>` (drain shutdown, §3.3). */
  notifyShutdown(): Promise<void>;
  logger: Logger;
}
