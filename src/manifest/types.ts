// Typed forms of the documents an operator writes (director-api.md §5). The parsers in this folder
// validate YAML into these types; everything downstream (planner, CLI) uses only these.

export interface ManifestRelease {
  name: string;
  version: string; // "latest" or a version
  url?: string;
  sha1?: string;
}

export interface ManifestStemcell {
  alias: string;
  os?: string;
  name?: string;
  version: string; // "latest" or a version
}

export interface UpdateBlock {
  canaries: number;
  max_in_flight: number | string; // int or percentage "50%"
  canary_watch_time: WatchTime;
  update_watch_time: WatchTime;
  serial?: boolean;
}

/** "1000-30000" or 30000, normalised to milliseconds. */
export interface WatchTime {
  min: number;
  max: number;
}

export interface InstanceGroupJob {
  name: string;
  release: string;
  properties?: Record<string, unknown>;
  consumes?: Record<string, unknown>;
  provides?: Record<string, unknown>;
}

export interface InstanceGroupNetwork {
  name: string;
  static_ips?: string[];
  default?: string[];
}

export interface InstanceGroup {
  name: string;
  azs?: string[];
  instances: number;
  jobs: InstanceGroupJob[];
  vm_type?: string;
  vm_resources?: { cpu: number; ram: number; ephemeral_disk_size: number };
  vm_extensions?: string[];
  stemcell: string; // alias
  networks: InstanceGroupNetwork[];
  persistent_disk?: number;
  persistent_disk_type?: string;
  properties?: Record<string, unknown>;
  lifecycle: 'service' | 'errand';
  update?: Partial<UpdateBlock>;
  env?: Record<string, unknown>;
}

export interface DeploymentManifest {
  name: string;
  releases: ManifestRelease[];
  stemcells: ManifestStemcell[];
  update: UpdateBlock;
  instance_groups: InstanceGroup[];
  properties?: Record<string, unknown>;
  variables?: Array<{ name: string; type: string; options?: Record<string, unknown> }>;
  features?: Record<string, unknown>;
  tags?: Record<string, string>;
}

export interface CloudConfigSubnet {
  range: string; // CIDR
  gateway: string;
  dns?: string[];
  reserved?: string[]; // ips or "a - b" ranges
  static?: string[];
  az?: string;
  azs?: string[];
  cloud_properties?: Record<string, unknown>;
}

export interface CloudConfigNetwork {
  name: string;
  type: 'manual' | 'dynamic' | 'vip';
  subnets: CloudConfigSubnet[];
  dns?: string[];
  cloud_properties?: Record<string, unknown>;
}

export interface CloudConfig {
  azs: Array<{ name: string; cloud_properties?: Record<string, unknown>; cpi?: string }>;
  vm_types: Array<{ name: string; cloud_properties?: Record<string, unknown> }>;
  vm_extensions: Array<{ name: string; cloud_properties?: Record<string, unknown> }>;
  disk_types: Array<{ name: string; disk_size: number; cloud_properties?: Record<string, unknown> }>;
  networks: CloudConfigNetwork[];
  compilation: {
    workers: number;
    network: string;
    az?: string;
    vm_type?: string;
    cloud_properties?: Record<string, unknown>;
    reuse_compilation_vms?: boolean;
    env?: Record<string, unknown>;
  };
}

/** A manifest/config error that names the file, the path inside it and the YAML line. */
export class ManifestError extends Error {
  constructor(
    public readonly file: string,
    public readonly path: string,
    public readonly line: number | null,
    public readonly reason: string,
  ) {
    super(`${file}${line != null ? `:${line}` : ''}: ${path ? `${path}: ` : ''}${reason}`);
    this.name = 'ManifestError';
  }
}
