// Certificate rotation without recreating VMs: each running agent gets a new NATS client
// certificate from the director's current agent CA (and the current NATS CA to verify the server)
// through update_settings `mbus.cert` (agent-protocol.md §2.13). The agent connects with the new
// certificate before it answers "ok" and keeps it across restarts (update_settings.json).
// The certificate subject stays `<agent_id>.agent.bosh-internal`, so NATS authorization is unchanged.
// Not an API route (director-api.md documents none): a director-internal entry point. A deploy does
// the same for the VMs whose NATS settings changed (deploy/agent-settings.ts, which does the work).
import type { Director } from '../context.js';
import { agentSettingsMaterial, updateAgentSettings, withTrustedCerts } from '../deploy/agent-settings.js';

export interface RotateOptions {
  /** Only this deployment's VMs; default every active VM. */
  deployment?: string;
  /** PEM bundle for the agents' trust store (update_settings always replaces it; default the director's trusted_certs). */
  trustedCerts?: string;
}

export interface RotatedVm {
  agentId: string;
  cid: string;
}

export async function rotateAgentCertificates(director: Director, options: RotateOptions = {}): Promise<RotatedVm[]> {
  const current = await agentSettingsMaterial(director);
  const material = options.trustedCerts === undefined ? current : withTrustedCerts(current, options.trustedCerts);
  const rotated: RotatedVm[] = [];
  for (const vm of await activeVms(director, options.deployment)) {
    await updateAgentSettings(director, { id: vm.id, agentId: vm.agent_id, instanceId: vm.instance_id }, ['nats_config'], material);
    director.log.info(`Rotated the NATS client certificate of agent ${vm.agent_id} (VM ${vm.cid})`);
    rotated.push({ agentId: vm.agent_id, cid: vm.cid });
  }
  return rotated;
}

async function activeVms(director: Director, deployment: string | undefined) {
  let query = director.db
    .selectFrom('vms')
    .innerJoin('instances', 'instances.id', 'vms.instance_id')
    .innerJoin('deployments', 'deployments.id', 'instances.deployment_id')
    .select(['vms.id', 'vms.agent_id', 'vms.cid', 'vms.instance_id'])
    .where('vms.active', '=', 1);
  if (deployment !== undefined) query = query.where('deployments.name', '=', deployment);
  return query.orderBy('vms.id').execute();
}
