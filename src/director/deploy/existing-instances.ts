// What a deploy respects about the instances it finds (director-api.md §6.1 step 3, §6.4):
// - every existing VM's agent must answer get_state, else the deploy fails with BOSH's timeout text;
//   with `--fix` such a VM (unresponsive agent or missing VM) is deleted and created again instead;
// - the state an operator gave an instance survives the deploy: a stopped instance is left alone
//   (unless it needs a new VM), a detached one (no VM) too; an instance group's `state:` in the
//   manifest overrides that and brings every instance of the group to it.
import { effectiveUpdate } from '../../manifest/index.js';
import type { DeploymentManifest } from '../../manifest/types.js';
import { RpcTimeout } from '../agent-client.js';
import { agentTimeouts } from '../config.js';
import type { Director, TaskContext } from '../context.js';
import { findInstances, instanceLabel } from '../day2/instances.js';
import { changeInstanceState, loadDeploymentContext, type InstanceAction } from '../day2/state-change.js';
import type { DeploymentPlan } from './deployer.js';
import { inParallel, resolveCount, type InstanceUpdate } from './instance-updater.js';
import { instanceName, type PlannedInstance } from './planner.js';
import { deleteVm } from './vm-creator.js';
import { detachInstanceDisks } from './disk-manager.js';

const MAX_STATE_THREADS = 32;
const STOP_TIMEOUT_MS = 300_000;

export interface StoredInstance {
  state: string;
  ignore: boolean;
}

/** The stored state and ignore flag of every planned instance, by uuid. */
export async function storedInstances(director: Director, plan: DeploymentPlan): Promise<Map<string, StoredInstance>> {
  const rows = await director.db.selectFrom('instances').select(['uuid', 'state', 'ignore']).where('deployment_id', '=', plan.deploymentId).execute();
  return new Map(rows.map((r) => [r.uuid, { state: r.state, ignore: r.ignore === 1 }]));
}

/** A group whose manifest says `state: started` is updated (and started) whatever its instances' stored state. */
export function withManifestStarts(plan: DeploymentPlan, stored: Map<string, StoredInstance>): Map<string, StoredInstance> {
  const result = new Map(stored);
  for (const planned of plan.groups.filter((g) => g.group.state === 'started')) {
    for (const instance of planned.instances) {
      const found = result.get(instance.uuid);
      if (found) result.set(instance.uuid, { ...found, state: 'started' });
    }
  }
  return result;
}

const STATE_ACTIONS: Record<string, InstanceAction> = { started: 'start', stopped: 'stop', detached: 'detach' };

/**
 * After the update: instances of groups with a manifest `state:` that are not in it get there
 * (start, stop, stop --hard), max_in_flight at a time. Returns whether any instance changed.
 */
export async function applyManifestStates(director: Director, task: TaskContext, manifest: DeploymentManifest): Promise<boolean> {
  const groups = manifest.instance_groups.filter((g) => g.state && g.lifecycle !== 'errand');
  if (groups.length === 0) return false;
  const rows = (await findInstances(director.db, manifest.name)).filter((r) => r.ignore === 0 && groups.some((g) => g.name === r.job && g.state !== r.state));
  if (rows.length === 0) return false;
  const ctx = await loadDeploymentContext(director, manifest.name);
  for (const group of groups) {
    const members = rows.filter((r) => r.job === group.name);
    if (members.length === 0) continue;
    const stage = task.events.beginStage('Updating instance', members.length, [group.name]);
    const maxInFlight = Math.max(1, resolveCount(effectiveUpdate(manifest, group).max_in_flight, members.length));
    await inParallel(members, maxInFlight, (row) => stage.track(instanceLabel(row), (step) => changeInstanceState(director, ctx, row, STATE_ACTIONS[group.state!], step)), () => task.checkpoint());
  }
  return true;
}

/** Drops detached instances from the plan: no VM is created for them and nothing is applied. */
export function leaveDetachedAlone(plan: DeploymentPlan, stored: Map<string, StoredInstance>): void {
  for (const planned of plan.groups) planned.instances = planned.instances.filter((i) => stored.get(i.uuid)?.state !== 'detached');
}

/**
 * Asks every (not ignored) existing VM's agent for its state. A silent agent fails the deploy unless
 * `fix`, in which case the silent instances are returned (to be recreated).
 */
export async function unresponsiveInstances(director: Director, plan: DeploymentPlan, stored: Map<string, StoredInstance>, fix: boolean): Promise<PlannedInstance[]> {
  const seconds = agentTimeouts(director.config).get_state_seconds;
  const withVm = plan.groups.flatMap((g) => g.instances).filter((i) => i.vm && !stored.get(i.uuid)?.ignore);
  const silent: PlannedInstance[] = [];
  await inParallel(withVm, MAX_STATE_THREADS, async (instance) => {
    const agentId = instance.vm!.agentId;
    try {
      await director.agents.forAgent(agentId).call('get_state', [], { timeoutMs: seconds * 1000 });
    } catch (err) {
      if (!(err instanceof RpcTimeout)) throw err;
      if (!fix) {
        const name = `${instance.group.name}/${instance.uuid}`;
        throw new Error(`${name}: Timed out sending 'get_state' to instance: '${name}', agent-id: '${agentId}' after ${seconds} seconds`);
      }
      silent.push(instance);
    }
  });
  return silent;
}

/** `--fix`: the silent instances lose their VM; "Creating missing vms" gives them a new one. */
export async function deleteUnresponsiveVms(director: Director, instances: PlannedInstance[], log: (line: string) => void): Promise<void> {
  await inParallel(instances, MAX_STATE_THREADS, async (instance) => {
    log(`Recreating unresponsive VM '${instance.vm!.cid}' of ${instanceName(instance)}`);
    // the disks go with the instance to its new VM, so the CPI lets go of them first
    await detachInstanceDisks(director, instance.dbId, { cid: instance.vm!.cid, agentId: instance.vm!.agentId, cpi: instance.vm!.created?.cpi }, true);
    await deleteVm(director, instance.vm!);
    instance.vm = null;
  });
}

export const isStopped = (stored: Map<string, StoredInstance> | undefined, uuid: string) => stored?.get(uuid)?.state === 'stopped';

/**
 * A deploy leaves a stopped instance alone (§6.4 step 2d: no recreate, no apply; the deploy after
 * `start` brings its changes). Only one that got a new VM (--fix, a missing VM) has its jobs applied,
 * without starting them.
 */
export function keepStopped(updates: InstanceUpdate[], stored: Map<string, StoredInstance> | undefined): InstanceUpdate[] {
  return updates.filter((update) => {
    if (!isStopped(stored, update.spec.id)) return true;
    if (update.hasRunningJobs) return false;
    update.start = false;
    return true;
  });
}

/** After a stopped instance's jobs are applied to a new VM: the agent stops what its monit started. */
export async function stopAppliedJobs(director: Director, update: InstanceUpdate): Promise<void> {
  await director.agents.forAgent(update.agentId).call('stop', [], { taskTimeoutMs: STOP_TIMEOUT_MS });
}
