// Creating and deleting VMs (director-api.md §6.3): agent id and mbus certificate, CPI create_vm,
// the vms row, waiting for the agent, and the partial apply that tells the agent who it is.
import { randomUUID } from 'node:crypto';
import type { ApplySpecJob, NetworkSettings } from '../../common/protocol.js';
import type { CloudProperties, Cpi, VmEnv } from '../../cpi/cpi.js';
import type { Director } from '../context.js';
import { cpiRegistry, DEFAULT_CPI, stemcellCidFor } from '../cpis.js';
import { issueAgentCertificateAsync } from './agent-cert.js';
import { agentBlobstores, agentSettingsMaterial, createdVmSha1s, usesDirectorBlobstore, type AgentSettingsMaterial } from './agent-settings.js';

export interface VmStemcell {
  name: string;
  version: string;
  operatingSystem: string;
  cid: string;
  apiVersion: number | null;
}

export interface VmRequest {
  deployment: string;
  instanceId: number;
  instanceGroup: string;
  instanceUuid: string;
  index: number;
  stemcell: VmStemcell;
  cloudProperties: CloudProperties;
  networks: Record<string, NetworkSettings>;
  env: Record<string, unknown>;
  /** The partial apply's job; null for compilation VMs (they get no apply). */
  job: ApplySpecJob | null;
  /** The CPI of the instance's AZ (cpis.ts azCpiName); absent or '': the default CPI. */
  cpi?: string;
}

export interface CreatedVm {
  id: number;
  agentId: string;
  cid: string;
  /** The CPI that made it (vms.cpi). */
  cpi: string;
}

/** `env.bosh` per §6.3: the group's env, the mbus certificate and the canonical groups. */
export function vmEnv(director: Director, request: VmRequest, mbusCert: NonNullable<NonNullable<VmEnv['bosh']>['mbus']>['cert']): VmEnv {
  const directorName = director.config.name;
  const { deployment, instanceGroup: ig } = request;
  const bosh = (request.env.bosh ?? {}) as Record<string, unknown>;
  return {
    ...request.env,
    bosh: {
      ...bosh,
      mbus: { cert: mbusCert },
      group: `${directorName}-${deployment}-${ig}`,
      groups: [directorName, deployment, ig, `${directorName}-${deployment}`, `${deployment}-${ig}`, `${directorName}-${deployment}-${ig}`],
    },
  };
}

export async function createVm(director: Director, request: VmRequest): Promise<CreatedVm> {
  const agentId = randomUUID();
  const material = await agentSettingsMaterial(director);
  const { ca, natsCa } = material;
  const env = withAgentBlobstore(director, vmEnv(director, request, await issueAgentCertificateAsync(ca, agentId, natsCa)), agentId, ca.certificatePem);
  // NATS must know the agent before the VM boots, or its first connect is refused.
  await director.natsAuth?.allowAgent(agentId);
  const cpiName = request.cpi ?? DEFAULT_CPI;
  let cid: string;
  let cpi: Cpi;
  try {
    cpi = await cpiRegistry(director).get(cpiName);
    const stemcellCid = await stemcellCidFor(director, request.stemcell, cpiName);
    cid = await cpi.createVm(agentId, stemcellCid, request.cloudProperties, request.networks, [], env);
  } catch (err) {
    director.natsAuth?.settleAgent(agentId);
    await director.natsAuth?.sync().catch((syncErr) => director.log.warn({ err: syncErr }, 'could not update NATS authorization'));
    throw err;
  }
  const row = await director.db
    .insertInto('vms')
    .values({
      instance_id: request.instanceId, agent_id: agentId, cid, active: 1, cpi: cpiName,
      created_at: new Date().toISOString(),
      network_spec_json: JSON.stringify(request.networks),
      env_json: JSON.stringify(withoutMbus(env)),
      cloud_properties_json: JSON.stringify(request.cloudProperties),
      stemcell_name: request.stemcell.name, stemcell_version: request.stemcell.version, stemcell_api_version: request.stemcell.apiVersion,
      ...createdVmSha1s(material, usesDirectorBlobstore(request.env)),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  director.natsAuth?.settleAgent(agentId); // the vms row now carries it
  const vm = { id: row.id, agentId, cid, cpi: cpiName };
  try {
    await director.db.updateTable('ip_addresses').set({ vm_id: vm.id }).where('instance_id', '=', request.instanceId).execute();
    await cpi.setVmMetadata?.(cid, {
      director: director.config.name, deployment: request.deployment, id: request.instanceUuid, job: request.instanceGroup,
      instance_group: request.instanceGroup, index: String(request.index), name: `${request.instanceGroup}/${request.instanceUuid}`,
      created_at: new Date().toISOString(),
    });
    await director.agents.waitUntilReady(agentId, director.config.agent_wait_timeout_seconds * 1000);
    await sendTrustedCerts(director, agentId, material);
    if (request.job) {
      await director.agents.forAgent(agentId).call('apply', [
        { deployment: request.deployment, job: request.job, index: request.index, id: request.instanceUuid, networks: request.networks },
      ]);
    }
  } catch (err) {
    await deleteVm(director, vm).catch((cleanupErr) => director.log.warn({ err: cleanupErr, cid }, 'could not delete failed VM'));
    throw err;
  }
  return vm;
}

/** Deletes the VM in the cloud (a VM already gone is fine) and forgets it. */
export async function deleteVm(director: Director, vm: { id: number; cid: string; cpi?: string }): Promise<void> {
  const cpi = await vmCpi(director, vm);
  if (await cpi.hasVm(vm.cid).catch(() => true)) await cpi.deleteVm(vm.cid);
  await director.db.updateTable('ip_addresses').set({ vm_id: null }).where('vm_id', '=', vm.id).execute();
  await director.db.deleteFrom('vms').where('id', '=', vm.id).execute();
  await director.natsAuth?.sync().catch((err) => director.log.warn({ err }, 'could not update NATS authorization'));
}

/** The CPI that made the VM (vms.cpi; looked up by id when the caller has no row). */
export async function vmCpi(director: Director, vm: { id: number; cid: string; cpi?: string }): Promise<Cpi> {
  const cpi = vm.cpi ?? (await director.db.selectFrom('vms').select('cpi').where('id', '=', vm.id).executeTakeFirst())?.cpi ?? DEFAULT_CPI;
  return cpiRegistry(director).forVm({ cid: vm.cid, cpi });
}

/** The private key of the mbus certificate never goes into the DB. */
function withoutMbus(env: VmEnv): VmEnv {
  const { mbus: _mbus, blobstores: _blobstores, ...bosh } = env.bosh ?? {};
  return { ...env, bosh };
}

/**
 * The VM's own credential for the embedded blob server (src/blobstore/agent-credentials.ts) in
 * `env.bosh.blobstores`, which agents prefer over the CPI's credential-less `blobstore` (§4.2);
 * blobstores the manifest's env names win.
 */
function withAgentBlobstore(director: Director, env: VmEnv, agentId: string, caPem: string): VmEnv {
  const blobstores = agentBlobstores(director, agentId, caPem); // null: no director blobstore (unit-test directors)
  if (!blobstores || env.bosh?.blobstores?.length) return env;
  return { ...env, bosh: { ...env.bosh, blobstores } };
}

/**
 * §6.3 step 4: the director's trusted certs reach a new VM through update_settings (they are no
 * part of the VM's env). Without any, the agent has none already and nothing is sent.
 */
async function sendTrustedCerts(director: Director, agentId: string, material: AgentSettingsMaterial): Promise<void> {
  if (!material.trustedCerts) return;
  await director.agents.forAgent(agentId).call('update_settings', [{ trusted_certs: material.trustedCerts, disk_associations: [] }]);
}
