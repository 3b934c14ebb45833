// The agent settings every VM gets from the director besides its own identity, and how a deploy
// keeps running VMs current without recreating them (director-api.md §6.1 changes `trusted_certs`,
// `nats_config`, `blobstore_config`; §6.3 step 4; §6.4 step 3):
// - trusted certs: the director config's `trusted_certs` PEM bundle;
// - NATS: the agent CA the director signs agent certificates with, the CA agents verify the NATS
//   server with and the NATS URL agents are told;
// - blobstore: the embedded blob server's endpoint and CA, and the secret each VM's own credential
//   is derived from (agent-credentials.ts).
// The vms row records a SHA-1 of each as the VM's agent last got it. A deploy compares them with the
// director's current ones; a VM that differs gets update_settings (a new NATS certificate, a new
// blobstore credential, the trusted certs) and its jobs restarted, and the new SHA-1s are recorded.
import { createHash, createHmac } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { Kysely } from 'kysely';
import type { BlobstoreSettings, MbusCert } from '../../common/protocol.js';
import { agentBlobstoreCredential, agentBlobstoreSettings } from '../../blobstore/agent-credentials.js';
import type { DirectorConfig } from '../config.js';
import type { Director } from '../context.js';
import type { Database } from '../db/schema.js';
import { issueAgentCertificateAsync, type CertificateAuthority } from './agent-cert.js';

export type SettingsChange = 'trusted_certs' | 'nats_config' | 'blobstore_config';

/** The vms columns (NULL: a VM made before they existed, its settings are unknown). */
export interface VmSettingsSha1s {
  trusted_certs_sha1: string | null;
  nats_config_sha1: string | null;
  blobstore_config_sha1: string | null;
}

export interface AgentSettingsMaterial {
  /** Signs the agents' NATS client certificates. */
  ca: CertificateAuthority;
  /** What agents verify the NATS server with (mbus.cert.ca). */
  natsCa: string;
  trustedCerts: string;
  /** The director's current settings; blobstore null when the director has no blobstore config. */
  sha1s: { trusted_certs_sha1: string; nats_config_sha1: string; blobstore_config_sha1: string | null };
}

interface CaFiles {
  ca: CertificateAuthority;
  natsCa: string;
}

/**
 * The CA files, read again whenever one of them changed on disk (an operator rotating the agent CA
 * needs no director restart for new VMs); many VMs created at once share one read.
 */
const caFiles = new Map<string, { stamp: string; files: Promise<CaFiles> }>();

async function loadCaFiles(config: DirectorConfig): Promise<CaFiles> {
  const paths = [config.agent_ca.certificate_path, config.agent_ca.private_key_path, config.nats.ca_path];
  const key = paths.join('\0');
  const stamp = (await Promise.all(paths.map((p) => stat(p)))).map((s) => `${s.ino}:${s.size}:${s.mtimeMs}`).join(',');
  const cached = caFiles.get(key);
  if (cached?.stamp === stamp) return cached.files;
  const files = (async () => {
    const [certificatePem, privateKeyPem, natsCa] = await Promise.all(paths.map((p) => readFile(p, 'utf8')));
    return { ca: { certificatePem, privateKeyPem }, natsCa };
  })();
  files.catch(() => caFiles.delete(key));
  caFiles.set(key, { stamp, files });
  return files;
}

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');

/** The director's current agent settings and their SHA-1s. */
export async function agentSettingsMaterial(director: Director): Promise<AgentSettingsMaterial> {
  const { config } = director;
  const { ca, natsCa } = await loadCaFiles(config);
  const trustedCerts = config.trusted_certs ?? '';
  return {
    ca, natsCa, trustedCerts,
    sha1s: {
      trusted_certs_sha1: sha1(trustedCerts),
      nats_config_sha1: sha1(JSON.stringify({ agent_ca: ca.certificatePem, nats_ca: natsCa, urls: agentMbusUrls(config) ?? null })),
      blobstore_config_sha1: blobstoreConfigSha1(config, ca.certificatePem),
    },
  };
}

/** The material with another trusted-certs bundle (a one-off update that is not the director's). */
export function withTrustedCerts(material: AgentSettingsMaterial, trustedCerts: string): AgentSettingsMaterial {
  return { ...material, trustedCerts, sha1s: { ...material.sha1s, trusted_certs_sha1: sha1(trustedCerts) } };
}

/** The blob server's settings shape plus a keyed digest of the secret every VM's credential comes from. */
function blobstoreConfigSha1(config: DirectorConfig, caPem: string): string | null {
  const blobstore = config.blobstore as DirectorConfig['blobstore'] | undefined; // absent in unit-test directors
  if (!blobstore) return null;
  // a new secret changes every agent's credential; the DB learns nothing about the secret itself
  const secret = createHmac('sha256', blobstore.server.password).update('capstan-blobstore-config-sha1').digest('hex');
  return sha1(JSON.stringify({ provider: 'dav', endpoint: blobstore.agent_endpoint, ca: caPem, secret }));
}

function agentMbusUrls(config: DirectorConfig): string[] | undefined {
  return config.nats.agent_url ? [config.nats.agent_url] : undefined;
}

/**
 * The VM's own `dav` settings for the embedded blob server (env.bosh.blobstores at create_vm,
 * update_settings blobstores later); null without a director blobstore.
 */
export function agentBlobstores(director: Director, agentId: string, caPem: string): BlobstoreSettings[] | null {
  const blobstore = director.config.blobstore as DirectorConfig['blobstore'] | undefined;
  if (!blobstore) return null;
  return [agentBlobstoreSettings(blobstore.agent_endpoint, caPem, agentBlobstoreCredential(blobstore.server.password, agentId))];
}

/** What a VM created now records: the blobstore SHA-1 only when it got the director's blobstore. */
export function createdVmSha1s(material: AgentSettingsMaterial, directorBlobstore: boolean): VmSettingsSha1s {
  return { ...material.sha1s, blobstore_config_sha1: directorBlobstore ? material.sha1s.blobstore_config_sha1 : null };
}

/**
 * The settings changes of a VM. `directorBlobstore`: the VM uses the director's blob server (its
 * instance group's env names no blobstores of its own).
 */
export function settingsChanges(vm: VmSettingsSha1s, material: AgentSettingsMaterial, directorBlobstore: boolean): SettingsChange[] {
  const changes: SettingsChange[] = [];
  if (vm.trusted_certs_sha1 !== material.sha1s.trusted_certs_sha1) changes.push('trusted_certs');
  if (vm.nats_config_sha1 !== material.sha1s.nats_config_sha1) changes.push('nats_config');
  const blobstore = material.sha1s.blobstore_config_sha1;
  if (directorBlobstore && blobstore !== null && vm.blobstore_config_sha1 !== blobstore) changes.push('blobstore_config');
  return changes;
}

/** Whether VMs of a group with this env use the director's blob server. */
export function usesDirectorBlobstore(env: Record<string, unknown> | undefined): boolean {
  const bosh = env?.bosh as { blobstores?: unknown[] } | undefined;
  return !bosh?.blobstores?.length;
}

/** The recorded SHA-1s of the given VMs, by vms.id. */
export async function vmSettingsSha1s(db: Kysely<Database>, vmIds: number[]): Promise<Map<number, VmSettingsSha1s>> {
  if (vmIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('vms')
    .select(['id', 'trusted_certs_sha1', 'nats_config_sha1', 'blobstore_config_sha1'])
    .where('id', 'in', vmIds)
    .execute();
  return new Map(rows.map(({ id, ...sha1s }) => [id, sha1s]));
}

export interface SettingsVm {
  /** vms.id */
  id: number;
  agentId: string;
  instanceId: number;
}

/**
 * update_settings for the changes (trusted certs always: the agent replaces them), then the VM's
 * new SHA-1s. A `nats_config` change brings a new NATS client certificate from the current agent
 * CA, which the agent connects with before it answers (agent-protocol.md §2.13); a
 * `blobstore_config` change the VM's own blobstore credential.
 */
export async function updateAgentSettings(director: Director, vm: SettingsVm, changes: SettingsChange[], material: AgentSettingsMaterial): Promise<void> {
  const mbus = changes.includes('nats_config') ? await agentMbus(director, vm.agentId, material) : undefined;
  const blobstores = changes.includes('blobstore_config') ? agentBlobstores(director, vm.agentId, material.ca.certificatePem) : null;
  const settings = {
    trusted_certs: material.trustedCerts,
    disk_associations: await diskAssociations(director, vm.instanceId),
    ...(mbus ? { mbus } : {}),
    ...(blobstores ? { blobstores } : {}),
  };
  await director.agents.forAgent(vm.agentId).call('update_settings', [settings]);
  const recorded: Partial<VmSettingsSha1s> = { trusted_certs_sha1: material.sha1s.trusted_certs_sha1 };
  if (mbus) recorded.nats_config_sha1 = material.sha1s.nats_config_sha1;
  if (blobstores) recorded.blobstore_config_sha1 = material.sha1s.blobstore_config_sha1;
  await director.db.updateTable('vms').set(recorded).where('id', '=', vm.id).execute();
  director.log.info({ agent_id: vm.agentId, changes }, 'Updated agent settings');
}

async function agentMbus(director: Director, agentId: string, material: AgentSettingsMaterial): Promise<{ cert: MbusCert; urls?: string[] }> {
  const cert = await issueAgentCertificateAsync(material.ca, agentId, material.natsCa);
  const urls = agentMbusUrls(director.config);
  return urls ? { cert, urls } : { cert };
}

/** update_settings replaces the agent's associations: send the instance's named disks again. */
async function diskAssociations(director: Director, instanceId: number): Promise<Array<{ name: string; cid: string }>> {
  const disks = await director.db
    .selectFrom('persistent_disks')
    .select(['name', 'disk_cid'])
    .where('instance_id', '=', instanceId)
    .where('active', '=', 1)
    .where('name', '!=', '')
    .execute();
  return disks.map((d) => ({ name: d.name, cid: d.disk_cid }));
}
