// The BOSH CPI method set (director-api.md §10.2). Every CPI (docker, dummy, external) implements it.
import type { AgentSettings, NetworkSettings } from '../common/protocol.js';

export type CloudProperties = Record<string, unknown>;

/** What the director passes to create_vm as `env` (merged into the agent settings' env). */
export interface VmEnv {
  bosh?: AgentSettings['env']['bosh'];
  [extra: string]: unknown;
}

/**
 * What attach_disk returns and the agent's add_persistent_disk takes: a device path or a hash like
 * `{path, volume_id, id, lun, host_device_id}`. null only from a CPI speaking API version 1, whose
 * agents learn the disk from their settings instead.
 */
export type DiskHint = string | Record<string, unknown> | null;

/** Receives the CPI log text of each call (director-api.md §10.1: a task's `cpi` output). */
export type CpiLogSink = (text: string) => void;

export interface Cpi {
  info(): Promise<{ stemcell_formats: string[]; api_version?: number }>;
  /** imagePath: the extracted stemcell `image` file. Returns the stemcell cid. */
  createStemcell(imagePath: string, cloudProperties: CloudProperties): Promise<string>;
  deleteStemcell(stemcellCid: string): Promise<void>;
  /** Returns the VM cid. The CPI writes agent settings where the agent reads them. */
  createVm(
    agentId: string,
    stemcellCid: string,
    cloudProperties: CloudProperties,
    networks: Record<string, NetworkSettings>,
    diskCids: string[],
    env: VmEnv,
  ): Promise<string>;
  deleteVm(vmCid: string): Promise<void>;
  hasVm(vmCid: string): Promise<boolean>;
  rebootVm?(vmCid: string): Promise<void>;
  setVmMetadata?(vmCid: string, metadata: Record<string, string>): Promise<void>;

  // Persistent disks. Optional so that test fakes need not implement them; every Capstan CPI does
  // (see DiskCpi). Missing VMs and disks are reported as CpiError VMNotFound / DiskNotFound.
  /** vmLocality: the VM the disk will be attached to, or null. Returns the disk cid. */
  createDisk?(sizeMb: number, cloudProperties: CloudProperties, vmLocality: string | null): Promise<string>;
  /** Deleting a disk that does not exist is not an error. */
  deleteDisk?(diskCid: string): Promise<void>;
  attachDisk?(vmCid: string, diskCid: string): Promise<DiskHint>;
  /** DiskNotAttached when the disk is not attached to that VM. */
  detachDisk?(vmCid: string, diskCid: string): Promise<void>;
  hasDisk?(diskCid: string): Promise<boolean>;
  /** The cids of the disks attached to the VM. */
  getDisks?(vmCid: string): Promise<string[]>;
  /** NotImplemented when the CPI cannot resize in place: the director then migrates to a new disk. */
  resizeDisk?(diskCid: string, newSizeMb: number): Promise<void>;
  setDiskMetadata?(diskCid: string, metadata: Record<string, string>): Promise<void>;

  /** The same CPI, writing the log of each call to sink (for the task's `cpi` output). */
  withCpiLog?(sink: CpiLogSink): Cpi;
}

/** The full method set, as the docker, dummy and external CPIs implement it. */
export type DiskCpi = Required<Cpi>;

/** How a CPI builds the agent settings that are not per-VM (BOSH's CPI `agent` config). */
export interface CpiAgentConfig {
  mbus: string; // nats://host:4222
  blobstore: AgentSettings['blobstore'];
  ntp?: string[];
}

/** BOSH's CPI error classes (director-api.md §10.1), as `type` of a CpiError. */
export const CpiErrorType = {
  CpiError: 'Bosh::Clouds::CpiError',
  NotImplemented: 'Bosh::Clouds::NotImplemented',
  CloudError: 'Bosh::Clouds::CloudError',
  VMNotFound: 'Bosh::Clouds::VMNotFound',
  NetworkNotFound: 'Bosh::Clouds::NetworkNotFound',
  DiskNotAttached: 'Bosh::Clouds::DiskNotAttached',
  DiskNotFound: 'Bosh::Clouds::DiskNotFound',
  VMCreationFailed: 'Bosh::Clouds::VMCreationFailed',
} as const;

/** An error a CPI reports: `type` is the BOSH class name, okToRetry tells the director it may retry. */
export class CpiError extends Error {
  constructor(
    public readonly type: string,
    message: string,
    public readonly okToRetry = false,
  ) {
    super(message);
    this.name = 'CpiError';
  }
}

export const vmNotFound = (vmCid: string) => new CpiError(CpiErrorType.VMNotFound, `VM '${vmCid}' not found`);
export const diskNotFound = (diskCid: string) => new CpiError(CpiErrorType.DiskNotFound, `Disk '${diskCid}' not found`);
export const diskNotAttached = (vmCid: string, diskCid: string) =>
  new CpiError(CpiErrorType.DiskNotAttached, `Disk '${diskCid}' is not attached to VM '${vmCid}'`);

/** The settings.json a CPI writes for a new VM's agent: per-VM facts plus the CPI's agent config. */
export function agentSettings(agent: CpiAgentConfig, agentId: string, vmCid: string, networks: Record<string, NetworkSettings>, env: VmEnv): AgentSettings {
  return {
    agent_id: agentId,
    blobstore: agent.blobstore,
    disks: { persistent: {} },
    env: env as AgentSettings['env'],
    networks,
    ntp: agent.ntp ?? [],
    mbus: agent.mbus,
    vm: { name: vmCid },
  };
}
