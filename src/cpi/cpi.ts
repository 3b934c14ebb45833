// The BOSH CPI method set (director-api.md §10.2). Every CPI (docker, dummy, external) implements it.
import type { AgentSettings, NetworkSettings } from '../common/protocol.js';

export type CloudProperties = Record<string, unknown>;

/** What the director passes to create_vm as `env` (merged into the agent settings' env). */
export interface VmEnv {
  bosh?: AgentSettings['env']['bosh'];
  [extra: string]: unknown;
}

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
}

/** How a CPI builds the agent settings that are not per-VM (BOSH's CPI `agent` config). */
export interface CpiAgentConfig {
  mbus: string; // nats://host:4222
  blobstore: AgentSettings['blobstore'];
  ntp?: string[];
}
