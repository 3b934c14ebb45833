// ssh setup / cleanup (director-api.md §2.5): the agent of every targeted instance creates (or
// removes) the temporary user; setup answers one JSON array line with each host's address and key.
import type { Director, TaskContext } from '../context.js';
import { activeVm, findInstances, type InstanceRow } from './instances.js';

export interface SshTarget {
  job?: string | null;
  indexes?: Array<string | number> | null;
  ids?: Array<string | number> | null;
}

export interface SshPayload {
  deployment_name: string;
  target: SshTarget;
  command: 'setup' | 'cleanup';
  params: Record<string, unknown>;
}

interface AgentSshResult {
  command: string;
  status: string;
  ip?: string;
  host_public_key?: string;
}

/** An instance is targeted when no index/id is given, or when its index or uuid is listed. */
function targeted(row: InstanceRow, target: SshTarget): boolean {
  const wanted = [...(target.indexes ?? []), ...(target.ids ?? [])].map(String);
  return wanted.length === 0 || wanted.includes(String(row.index)) || wanted.includes(row.uuid);
}

export async function runSsh(director: Director, task: TaskContext, payload: SshPayload): Promise<number> {
  const rows = (await findInstances(director.db, payload.deployment_name, payload.target.job ?? undefined)).filter((r) => targeted(r, payload.target));
  const results: Array<Record<string, unknown>> = [];
  for (const row of rows) {
    const vm = await activeVm(director.db, row.id);
    if (!vm) continue;
    const answer = await director.agents.forAgent(vm.agent_id).call<AgentSshResult>('ssh', [payload.command, payload.params]);
    results.push({ ...answer, id: row.uuid, index: row.index, job: row.job, ...gateway(director) });
  }
  await task.appendResult(JSON.stringify(results));
  return results.length;
}

/** A configured ssh gateway (director config `ssh_gateway: {host, user}`) is passed on to the CLI. */
function gateway(director: Director): Record<string, string> {
  const configured = (director.config as { ssh_gateway?: { host?: string; user?: string } }).ssh_gateway;
  return configured?.host ? { gateway_host: configured.host, gateway_user: configured.user ?? 'vcap' } : {};
}
