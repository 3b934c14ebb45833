// Kysely table types for the director DB (director-api.md §11), shared by repositories, migrations,
// the task runner and the deploy code. JSON columns hold serialized JSON text.
import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<string, string | undefined, string>; // ISO 8601 text in both SQLite and PostgreSQL

export interface TasksTable {
  id: Generated<number>;
  state: string; // queued | processing | cancelling | done | error | cancelled | timeout
  type: string;
  description: string;
  result: string | null;
  timestamp: number | null; // unix seconds (creation, then finish time)
  started_at: number | null;
  checkpoint_time: number | null;
  username: string;
  deployment_name: string | null;
  context_id: string;
  event_output: Generated<string>;
  result_output: Generated<string>;
  payload_json: string; // what the worker needs to run the task (manifest text, ids, options)
}

export interface LocksTable {
  id: Generated<number>;
  name: string; // lock:<type>:<resource>
  uid: string;
  expired_at: number; // unix seconds
  task_id: number;
}

export interface DeploymentsTable {
  id: Generated<number>;
  name: string;
  manifest_text: string | null;
  cloud_config_id: number | null;
}

export interface InstancesTable {
  id: Generated<number>;
  deployment_id: number;
  job: string; // instance group name
  index: number;
  uuid: string;
  state: string; // started | stopped | detached
  availability_zone: string | null;
  compilation: number; // 0/1
  bootstrap: number; // 0/1
  spec_json: string | null; // the full apply spec last applied
  update_completed: number; // 0/1
  ignore: number; // 0/1
}

export interface VmsTable {
  id: Generated<number>;
  instance_id: number;
  agent_id: string;
  cid: string;
  active: number; // 0/1
  cpi: string;
  created_at: Timestamp;
  network_spec_json: string | null;
  env_json: string | null;
  cloud_properties_json: string | null;
  stemcell_name: string | null;
  stemcell_version: string | null;
  stemcell_api_version: number | null;
  // 0006: SHA-1s of the agent settings the VM was last given (deploy/agent-settings.ts); NULL = unknown
  trusted_certs_sha1: NullableSha1;
  blobstore_config_sha1: NullableSha1;
  nats_config_sha1: NullableSha1;
}

/** A column inserts may leave out (NULL). */
type NullableSha1 = ColumnType<string | null, string | null | undefined, string | null>;

export interface IpAddressesTable {
  id: Generated<number>;
  network_name: string;
  address_str: string; // dotted quad
  static: number; // 0/1
  instance_id: number | null;
  vm_id: number | null;
  task_id: string | null;
  created_at: Timestamp;
}

export interface ReleasesTable {
  id: Generated<number>;
  name: string;
}

export interface ReleaseVersionsTable {
  id: Generated<number>;
  release_id: number;
  version: string;
  commit_hash: string | null;
  uncommitted_changes: number;
  update_completed: number;
}

export interface PackagesTable {
  id: Generated<number>;
  release_id: number;
  name: string;
  version: string; // == fingerprint for CLI-built releases
  fingerprint: string;
  blobstore_id: string | null; // null for compiled-release-only packages
  sha1: string | null;
  dependency_set_json: string; // JSON array of package names
}

export interface TemplatesTable {
  id: Generated<number>;
  release_id: number;
  name: string;
  version: string;
  fingerprint: string;
  blobstore_id: string;
  sha1: string;
  package_names_json: string;
  spec_json: string; // whole job.MF as JSON
}

export interface PackagesReleaseVersionsTable {
  package_id: number;
  release_version_id: number;
}

export interface ReleaseVersionsTemplatesTable {
  template_id: number;
  release_version_id: number;
}

export interface CompiledPackagesTable {
  id: Generated<number>;
  package_id: number;
  stemcell_os: string;
  stemcell_version: string;
  build: number;
  blobstore_id: string;
  sha1: string;
  dependency_key: string;
  dependency_key_sha1: string;
}

export interface StemcellsTable {
  id: Generated<number>;
  name: string;
  version: string;
  operating_system: string;
  cid: string;
  sha1: string;
  cpi: string;
  api_version: number | null;
}

export interface ConfigsTable {
  id: Generated<number>;
  type: string; // cloud | runtime | cpi | resurrection | ...
  name: string;
  content: string;
  created_at: Timestamp;
  deleted: number; // 0/1
}

export interface DeploymentsReleaseVersionsTable {
  deployment_id: number;
  release_version_id: number;
}

export interface DeploymentsStemcellsTable {
  deployment_id: number;
  stemcell_id: number;
}

export interface RenderedTemplatesArchivesTable {
  id: Generated<number>;
  instance_id: number;
  blobstore_id: string;
  sha1: string;
  content_sha1: string;
  created_at: Timestamp;
}

/** Links a deployment provides, stored for consumers in other deployments (migration 0002). */
export interface LinkProvidersTable {
  id: Generated<number>;
  deployment_id: number;
  instance_group: string;
  job: string;
  name: string;
  alias: string;
  type: string;
  shared: number;
  content_json: string;
}

/** Director-generated variables; value_encrypted is AES-256-GCM with the key file (migration 0002). */
export interface DeploymentVariablesTable {
  id: Generated<number>;
  deployment_id: number;
  name: string;
  type: string;
  value_encrypted: string;
  created_at: string;
}

/** A disk an instance owns (migration 0004); one active per instance, inactive ones after a failed migration. */
export interface PersistentDisksTable {
  id: Generated<number>;
  instance_id: number;
  disk_cid: string;
  size: number; // MB
  active: number; // 0/1
  cloud_properties_json: string;
  name: string; // '' for the disk of persistent_disk / persistent_disk_type
  cpi: string;
}

/** A disk no instance owns any more, kept until deleted (migration 0004). */
export interface OrphanDisksTable {
  id: Generated<number>;
  disk_cid: string;
  size: number | null;
  availability_zone: string | null;
  deployment_name: string;
  instance_name: string; // <ig>/<uuid>
  cloud_properties_json: string;
  cpi: string;
  created_at: Timestamp;
}

export interface Database {
  tasks: TasksTable;
  locks: LocksTable;
  deployments: DeploymentsTable;
  instances: InstancesTable;
  vms: VmsTable;
  ip_addresses: IpAddressesTable;
  releases: ReleasesTable;
  release_versions: ReleaseVersionsTable;
  packages: PackagesTable;
  templates: TemplatesTable;
  packages_release_versions: PackagesReleaseVersionsTable;
  release_versions_templates: ReleaseVersionsTemplatesTable;
  compiled_packages: CompiledPackagesTable;
  stemcells: StemcellsTable;
  configs: ConfigsTable;
  deployments_release_versions: DeploymentsReleaseVersionsTable;
  deployments_stemcells: DeploymentsStemcellsTable;
  rendered_templates_archives: RenderedTemplatesArchivesTable;
  link_providers: LinkProvidersTable;
  deployment_variables: DeploymentVariablesTable;
  persistent_disks: PersistentDisksTable;
  orphan_disks: OrphanDisksTable;
}
