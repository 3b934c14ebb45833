// Certificate rotation without recreating VMs: each running agent gets a new NATS client
// certificate from the director's current agent CA (and the current NATS CA to verify the server)
// through update_settings `mbus.cert` (agent-protocol.md §2.13). The agent connects with the new
// certificate before it answers "ok" and keeps it across restarts (update_settings.json).
// The certificate subject stays `<agent_id>.agent.bosh-internal`, so NATS authorization is unchanged.
// Not an API route (director-api.md documents none): a director-internal entry point.
import { readFile } from 'node:fs/promises';
import type { Director } from '../context.js';
import { issueAgentCertificateAsync, loadAgentCa } from '../deploy/agent-cert.js';

export interface RotateOptions {
  /** Only this deployment's VMs; default every active VM. */
  deployment?: string;
  /** PEM bundle for the agents' trust store (update_settings always replaces it; default none). */
  trustedCerts?: string;
}

export interface RotatedVm {
  agentId: string;
  cid: string;
}

export async function rotateAgentCertificates(director: Director, options: RotateOptions = {}): Promise<RotatedVm[]> {
  const ca = await loadAgentCa(director.config);
  const natsCa = await readFile(director.config.nats.ca_path, 'utf8');
  const rotated: RotatedVm[] = [];
  for (const vm of await activeVms(director, options.deployment)) {
    const cert = await issueAgentCertificateAsync(ca, vm.agent_id, natsCa);
    const settings = { trusted_certs: options.trustedCerts ?? '', disk_associations: await diskAssociations(director, vm.instance_id), mbus: { cert } };
    await director.agents.forAgent(vm.agent_id).call('update_settings', [settings]);
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
    .select(['vms.agent_id', 'vms.cid', 'vms.instance_id'])
    .where('vms.active', '=', 1);
  if (deployment !== undefined) query = query.where('deployments.name', '=', deployment);
  return query.orderBy('vms.id').execute();
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
