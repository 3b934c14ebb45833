// Instance state changes (director-api.md §2.4): start, stop, stop --hard (detach), restart and
// recreate one instance, on the spec it last had applied (no re-render: the stored deployment).
import type { ApplySpec, ApplySpecJob } from '../../common/protocol.js';
import { CapstanError } from '../../common/errors.js';
import { effectiveUpdate, parseCloudConfig, parseDeploymentManifest } from '../../manifest/index.js';
import type { CloudConfig, DeploymentManifest, InstanceGroup, UpdateBlock } from '../../manifest/types.js';
import type { AgentClient } from '../agent-client.js';
import type { Director, EventStep } from '../context.js';
import { azCpiName, cpiRegistry } from '../cpis.js';
import { agentTimeouts } from '../config.js';
import { instanceCloudProperties } from '../deploy/cloud-properties.js';
import { stopSequence, waitUntilRunning } from '../deploy/instance-updater.js';
import { resolveStemcell } from '../deploy/releases.js';
import { createVm, deleteVm, type VmRequest, type VmStemcell } from '../deploy/vm-creator.js';
import { attachInstanceDisk, detachInstanceDisks } from '../deploy/disk-manager.js';
import { activeVm, findDeploymentRow, instanceLabel, type InstanceRow, type VmRow } from './instances.js';

export type InstanceAction = 'start' | 'stop' | 'detach' | 'restart' | 'recreate';

export interface ActionOptions {
  skipDrain?: boolean;
  /** recreate: go on when the old VM's agent does not answer (cloud check, resurrection). */
  ignoreUnresponsiveAgent?: boolean;
  /** recreate: apply the spec but do not wait for the jobs to run (recreate_vm_without_wait). */
  noWait?: boolean;
}

/** What state changes need from the stored deployment: its manifest and cloud config. */
export interface DeploymentContext {
  name: string;
  manifest: DeploymentManifest;
  cloudConfig: CloudConfig;
}

const STOP_TIMEOUT_MS = 300_000;
const START_TIMEOUT_MS = 90_000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function loadDeploymentContext(director: Director, name: string): Promise<DeploymentContext> {
  const deployment = await findDeploymentRow(director.db, name);
  if (!deployment.manifest_text) throw new CapstanError(`Deployment '${name}' has not been deployed yet`, 70000, 404);
  let query = director.db.selectFrom('configs').selectAll().where('type', '=', 'cloud');
  query = deployment.cloud_config_id !== null ? query.where('id', '=', deployment.cloud_config_id) : query.where('deleted', '=', 0).orderBy('id', 'desc');
  const cloud = await query.executeTakeFirst();
  if (!cloud) throw new Error(`Deployment '${name}' has no cloud config`);
  return {
    name,
    manifest: parseDeploymentManifest(deployment.manifest_text, `manifest of deployment '${name}'`),
    cloudConfig: parseCloudConfig(cloud.content, `cloud-config (id ${cloud.id})`),
  };
}

export function groupOf(ctx: DeploymentContext, row: InstanceRow): InstanceGroup {
  const group = ctx.manifest.instance_groups.find((g) => g.name === row.job);
  if (!group) throw new Error(`Instance group '${row.job}' is not in the manifest of deployment '${ctx.name}'`);
  return group;
}

export const updateBlockOf = (ctx: DeploymentContext, row: InstanceRow): UpdateBlock => effectiveUpdate(ctx.manifest, groupOf(ctx, row));

/** The state an action leaves the instance in. */
export function targetState(action: InstanceAction, current: string): string {
  switch (action) {
    case 'start':
    case 'restart':
      return 'started';
    case 'stop':
      return 'stopped';
    case 'detach':
      return 'detached';
    case 'recreate':
      return current;
  }
}

/** Performs the action on one instance and records its new state. */
export async function changeInstanceState(
  director: Director,
  ctx: DeploymentContext,
  row: InstanceRow,
  action: InstanceAction,
  step: EventStep,
  options: ActionOptions = {},
): Promise<void> {
  if (!row.spec_json) throw new Error(`Instance '${instanceLabel(row)}' has never been deployed`);
  const spec = JSON.parse(row.spec_json) as ApplySpec;
  const state = targetState(action, row.state);
  let vm = await activeVm(director.db, row.id);
  const agent = () => director.agents.forAgent(vm!.agent_id);

  if (vm && (action === 'stop' || action === 'detach' || action === 'restart')) {
    await stopJobs(agent(), spec, step, action === 'detach' ? 'shutdown' : 'update', options.skipDrain ?? false);
  }
  if (vm && action === 'detach') {
    await detachInstanceDisks(director, row.id, { cid: vm.cid, agentId: vm.agent_id });
    step.status('deleting vm');
    await deleteVm(director, vm);
    vm = undefined;
  }
  if (action === 'recreate' && row.state !== 'detached') {
    const old = vm ?? null;
    if (old) await retireVm(director, old, spec, step, options);
    vm = await replaceVm(director, ctx, row, spec, old, step);
  } else if (!vm && state !== 'detached') {
    vm = await replaceVm(director, ctx, row, spec, null, step);
  }
  if (vm && state === 'started' && action !== 'stop') {
    if (!options.noWait) await startJobs(agent(), instanceLabel(row), updateBlockOf(ctx, row), step);
    else await agent().call('start', [], { timeoutMs: START_TIMEOUT_MS });
  }
  await director.db.updateTable('instances').set({ state }).where('id', '=', row.id).execute();
}

/** Stops the old VM's jobs (tolerating a dead agent when asked) and deletes the VM. */
async function retireVm(director: Director, vm: VmRow, spec: ApplySpec, step: EventStep, options: ActionOptions): Promise<void> {
  // a VM gone from the cloud has no jobs to stop
  const exists = !options.ignoreUnresponsiveAgent || (await (await cpiRegistry(director).forVm(vm)).hasVm(vm.cid).catch(() => true));
  try {
    if (exists) await stopJobs(director.agents.forAgent(vm.agent_id), spec, step, 'shutdown', options.skipDrain ?? false, options.ignoreUnresponsiveAgent ? agentTimeouts(director.config).unresponsive_stop_seconds * 1000 : undefined);
  } catch (err) {
    if (!options.ignoreUnresponsiveAgent) throw err;
  }
  // the disk goes to the new VM; an agent that does not answer cannot unmount it
  await detachInstanceDisks(director, vm.instance_id, { cid: vm.cid, agentId: vm.agent_id }, true);
  step.status('deleting vm');
  await deleteVm(director, vm);
}

/** Creates a VM for the instance and applies its last spec (jobs and packages are installed). */
export async function replaceVm(
  director: Director,
  ctx: DeploymentContext,
  row: InstanceRow,
  spec: ApplySpec,
  oldVm: VmRow | null,
  step: EventStep,
): Promise<VmRow> {
  step.status('creating vm');
  const created = await createVm(director, await vmRequest(director, ctx, row, spec, oldVm));
  await attachInstanceDisk(director, row.id, created);
  step.status('installing packages');
  await director.agents.forAgent(created.agentId).call('apply', [spec]);
  return (await director.db.selectFrom('vms').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow());
}

async function vmRequest(director: Director, ctx: DeploymentContext, row: InstanceRow, spec: ApplySpec, oldVm: VmRow | null): Promise<VmRequest> {
  const group = groupOf(ctx, row);
  return {
    deployment: ctx.name,
    instanceId: row.id,
    instanceGroup: row.job,
    instanceUuid: row.uuid,
    index: row.index,
    stemcell: await stemcellFor(director, ctx, group, oldVm),
    cloudProperties: instanceCloudProperties(ctx.cloudConfig, group, row.availability_zone),
    cpi: azCpiName(ctx.cloudConfig, row.availability_zone),
    networks: spec.networks,
    env: group.env ?? {},
    job: (spec.job && 'name' in spec.job ? spec.job : null) as ApplySpecJob | null,
  };
}

/** The stemcell the instance's VM had, else the one the manifest names. */
async function stemcellFor(director: Director, ctx: DeploymentContext, group: InstanceGroup, oldVm: VmRow | null): Promise<VmStemcell> {
  if (oldVm?.stemcell_name && oldVm.stemcell_version) {
    const row = await director.db
      .selectFrom('stemcells')
      .selectAll()
      .where('name', '=', oldVm.stemcell_name)
      .where('version', '=', oldVm.stemcell_version)
      .where('cpi', 'in', [director.cpiName, ''])
      .executeTakeFirst();
    if (row) return { name: row.name, version: row.version, operatingSystem: row.operating_system, cid: row.cid, apiVersion: row.api_version };
  }
  const wanted = ctx.manifest.stemcells.find((s) => s.alias === group.stemcell);
  if (!wanted) throw new Error(`Instance group '${group.name}' references unknown stemcell '${group.stemcell}'`);
  return resolveStemcell(director.db, wanted, director.cpiName);
}

async function stopJobs(agent: AgentClient, spec: ApplySpec, step: EventStep, drainType: string, skipDrain: boolean, timeoutMs?: number): Promise<void> {
  if (!skipDrain && timeoutMs === undefined) return stopSequence(agent, spec, step, drainType);
  step.status('stopping jobs');
  await agent.call('stop', [], { taskTimeoutMs: STOP_TIMEOUT_MS, ...(timeoutMs ? { timeoutMs } : {}) });
}

/** pre-start, start, wait until the agent reports the jobs running, post-start (§6.4). */
export async function startJobs(agent: AgentClient, name: string, update: UpdateBlock, step: EventStep): Promise<void> {
  step.status('executing pre-start');
  await runScript(agent, 'pre-start');
  step.status('starting jobs');
  await agent.call('start', [], { timeoutMs: START_TIMEOUT_MS });
  await waitUntilRunning(agent, name, update.update_watch_time.min, update.update_watch_time.max, sleep);
  step.status('executing post-start');
  await runScript(agent, 'post-start');
}

async function runScript(agent: AgentClient, name: string): Promise<void> {
  await agent.call('run_script', [name, {}]).catch((err: Error) => {
    if (!/unknown message/.test(err.message)) throw err;
  });
}
