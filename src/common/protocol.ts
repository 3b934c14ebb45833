// Every wire type shared between director, agent, CPIs and health monitor lives here,
// so that a change to the protocol is a change in one place (agent-protocol.md, director-api.md).

/** NATS request body sent to `agent.<agent_id>` (agent-protocol.md §1.2). */
export interface AgentRequest {
  method: string;
  arguments?: unknown[];
  reply_to: string;
  protocol?: number;
}

/** Agent response envelope (§1.4). */
export type AgentResponse = { value: unknown } | { exception: { message: string } };

/** Async action handle (§1.5). */
export interface AgentTaskHandle {
  agent_task_id: string;
  state: 'running';
}

export interface BlobstoreSettings {
  provider: string; // 'dav' | 'local' | ...
  options: Record<string, unknown>;
}

export interface MbusCert {
  ca: string;
  certificate: string;
  private_key: string;
}

export interface NetworkSettings {
  type?: 'manual' | 'dynamic' | 'vip';
  ip?: string;
  netmask?: string;
  gateway?: string;
  prefix?: string;
  resolved?: boolean;
  use_dhcp?: boolean;
  default?: string[];
  dns?: string[];
  mac?: string;
  preconfigured?: boolean;
  cloud_properties?: Record<string, unknown>;
  [extra: string]: unknown;
}

/** settings.json written by the CPI, read by the agent (§4.2). */
export interface AgentSettings {
  agent_id: string;
  blobstore: BlobstoreSettings;
  disks: { system?: string; ephemeral?: unknown; persistent?: Record<string, unknown>; raw_ephemeral?: unknown[] };
  env: {
    bosh?: {
      mbus?: { cert?: MbusCert; urls?: string[] };
      blobstores?: BlobstoreSettings[];
      password?: string;
      authorized_keys?: string[];
      [extra: string]: unknown;
    };
    [extra: string]: unknown;
  };
  networks: Record<string, NetworkSettings>;
  ntp: string[];
  mbus: string;
  vm: { name: string };
}

export interface ApplySpecJob {
  name: string;
  template?: string;
  version?: string;
  sha1?: string;
  blobstore_id?: string;
  release?: string;
  templates: Array<{ name: string; version: string; sha1?: string; blobstore_id?: string; logs?: unknown }>;
}

export interface ApplySpecPackage {
  name: string;
  version: string; // "<version>.<build>"
  sha1: string; // digest string (§7.2)
  blobstore_id: string;
  signed_url?: string;
  blobstore_headers?: Record<string, string>;
}

/** Apply spec, director -> agent `apply`/`prepare` (§5.1, director-api §7.4). */
export interface ApplySpec {
  deployment: string;
  name: string; // instance group name
  index: number;
  id: string; // instance uuid
  az?: string | null;
  job?: ApplySpecJob | Record<string, never>;
  packages?: Record<string, ApplySpecPackage>;
  networks: Record<string, NetworkSettings>;
  dns_domain_name?: string;
  configuration_hash?: string;
  persistent_disk?: number;
  persistent_disk_type?: string;
  template_hashes?: Record<string, string>;
  rendered_templates_archive?: { blobstore_id: string; sha1: string };
  properties?: { logging?: { max_log_file_size?: string } };
  resource_pool?: unknown;
}

export type JobState = 'running' | 'failing' | 'starting' | 'stopped' | 'unknown';

export interface ProcessState {
  name: string;
  state: string;
  uptime?: { secs?: number };
  mem?: { kb?: number; percent: number };
  cpu?: { total: number };
}

export interface Vitals {
  cpu: { user: string; sys: string; wait: string };
  mem: { kb: string; percent: string };
  swap: { kb: string; percent: string };
  load: [string, string, string];
  disk?: Record<string, { percent: string; inode_percent: string }>;
  uptime: { secs: number };
}

/** `get_state` value (§2.3). */
export interface AgentState extends Partial<ApplySpec> {
  agent_id: string;
  job_state: JobState;
  vitals?: Vitals;
  processes?: ProcessState[];
  vm: { name: string };
}

/** `hm.agent.heartbeat.<agent_id>` payload (§3.1). */
export interface Heartbeat {
  deployment: string;
  job: string | null;
  index: number | null;
  job_state: JobState;
  vitals: Vitals;
  node_id: string;
  number_of_processes: number | null;
}

/** `hm.agent.alert.<agent_id>` payload (§3.2). */
export interface AgentAlert {
  id: string;
  severity: number;
  title: string;
  summary: string;
  created_at: number;
}

/** `compile_package` dependency entry (§2.9). */
export interface CompileDependency {
  name: string;
  version: string;
  sha1: string;
  blobstore_id: string;
}

/** `compile_package` result value (§2.9). */
export interface CompileResult {
  result: { blobstore_id: string; sha1: string };
}
