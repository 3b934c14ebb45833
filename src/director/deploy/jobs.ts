// The task jobs of the deploy path: update_deployment, delete_deployment, vms, run_errand.
// Each receives the Director and the TaskContext (context.ts); its return value is the task result.
import type { AgentState } from '../../common/protocol.js';
import { CapstanError } from '../../common/errors.js';
import { effectiveUpdate } from '../../manifest/index.js';
import type { DeploymentManifest } from '../../manifest/types.js';
import type { Director, TaskContext, TaskJob } from '../context.js';
import { agentTimeouts } from '../config.js';
import {
  compilePlan, createMissingVms, instanceUpdates, parseManifestFor, planDeployment, recordInstanceUpdate, renderPlan, saveDeployment,
  type DeploymentPlan, type InstanceUpdateOptions,
} from './deployer.js';
import { interpolatedManifest } from './variables.js';
import { withAddons } from './addons.js';
import { releaseInstanceIps } from './planner.js';
import { deleteInstances, type InstanceRow } from './instance-deleter.js';
import { inParallel, runInstanceScript, updateInstanceGroup } from './instance-updater.js';
import { obsoleteInstances, instanceName, type PlannedInstance } from './planner.js';
import { deleteVm } from './vm-creator.js';
import { applyManifestStates, deleteUnresponsiveVms, isStopped, keepStopped, leaveDetachedAlone, stopAppliedJobs, withManifestStarts, storedInstances, unresponsiveInstances, type StoredInstance } from './existing-instances.js';
import { migrateInstanceGroups } from './migrated-from.js';
import { instanceDisks } from './disk-manager.js';

export interface UpdateDeploymentPayload {
  deployment_name: string;
  manifest_text: string;
  recreate?: boolean;
  /** `--recreate-persistent-disks`: replace every persistent disk, migrating its data. */
  recreate_persistent_disks?: boolean;
  fix?: boolean;
  dry_run?: boolean;
  /** `*` or a comma list of `<ig>` / `<ig>/<uuid>` (POST /deployments?skip_drain=). */
  skip_drain?: string | null;
  /** `<n>` or `<n>%`, overriding every group's update block. */
  canaries?: string | null;
  max_in_flight?: string | null;
}

export interface DeleteDeploymentPayload {
  deployment_name: string;
  force?: boolean;
}

export interface VmsPayload {
  deployment_name: string;
  format?: string;
  /** GET /deployments/<d>/instances?format=full: also list instances without a VM. */
  instance_details?: boolean;
}

export interface RunErrandPayload {
  deployment_name: string;
  errand_name: string;
  keep_alive?: boolean;
}

const notFoundDeployment = (name: string) => new CapstanError(`Deployment '${name}' doesn't exist`, 70000, 404);

async function findDeployment(director: Director, name: string) {
  const row = await director.db.selectFrom('deployments').selectAll().where('name', '=', name).executeTakeFirst();
  if (!row) throw notFoundDeployment(name);
  return row;
}

/**
 * "Preparing deployment" stage: planning (step 1, ending with `afterPlan`, e.g. the existing agents'
 * state check) and template rendering (step 2).
 */
async function prepare(director: Director, task: TaskContext, manifest: DeploymentManifest, manifestText: string, chooseGroups: (g: DeploymentManifest['instance_groups'][number]) => boolean, afterPlan?: (plan: DeploymentPlan) => Promise<void>) {
  const stage = task.events.beginStage('Preparing deployment', 1);
  const plan = await stage.track('Preparing deployment', async () => {
    const planned = await planDeployment(director, task, manifest, manifestText, chooseGroups);
    await afterPlan?.(planned);
    return planned;
  });
  const rendered = await stage.track('Rendering templates', () => renderPlan(director, plan));
  return { plan, rendered };
}

export interface GroupUpdateOptions extends InstanceUpdateOptions {
  canaries?: string | null;
  maxInFlight?: string | null;
  /** Stored instance states: stopped instances stay stopped. */
  stored?: Map<string, StoredInstance>;
}

/** A count flag (`3` or `30%`) as the update block holds it. */
function countFlag(value: string): number | string {
  return /^\d+$/.test(value) ? Number(value) : value;
}

/**
 * Updates the planned groups in manifest order; consecutive `serial: false` groups update in parallel.
 * Returns whether any instance was updated.
 */
async function updateGroups(director: Director, task: TaskContext, plan: DeploymentPlan, rendered: Awaited<ReturnType<typeof prepare>>['rendered'], compiled: Awaited<ReturnType<typeof compilePlan>>, start: boolean, options: GroupUpdateOptions = {}): Promise<boolean> {
  let changed = false;
  const updateGroup = async (planned: DeploymentPlan['groups'][number]) => {
    const updates = keepStopped(await instanceUpdates(director, plan, planned, rendered, compiled, start, options), options.stored);
    if (updates.length) changed = true;
    const update = effectiveUpdate(plan.manifest, planned.group);
    await updateInstanceGroup(planned.group.name, updates, {
      agents: director.agents,
      events: task.events,
      update: {
        ...update,
        ...(options.canaries ? { canaries: countFlag(options.canaries) } : {}),
        ...(options.maxInFlight ? { max_in_flight: countFlag(options.maxInFlight) } : {}),
      },
      checkpoint: () => task.checkpoint(),
      onUpdated: async (done) => {
        if (isStopped(options.stored, done.spec.id)) await stopAppliedJobs(director, done);
        await recordInstanceUpdate(director, plan, done);
      },
    });
  };
  for (const batch of serialBatches(plan)) {
    if (batch.length === 1) await updateGroup(batch[0]);
    else await inParallel(batch, batch.length, updateGroup, () => task.checkpoint());
  }
  return changed;
}

/** Groups in order, where a run of consecutive `serial: false` groups forms one batch. */
export function serialBatches(plan: Pick<DeploymentPlan, 'manifest' | 'groups'>): Array<DeploymentPlan['groups']> {
  const batches: Array<DeploymentPlan['groups']> = [];
  let parallel: DeploymentPlan['groups'] | null = null;
  for (const planned of plan.groups) {
    if (effectiveUpdate(plan.manifest, planned.group).serial === false) {
      if (!parallel) batches.push((parallel = []));
      parallel.push(planned);
    } else {
      parallel = null;
      batches.push([planned]);
    }
  }
  return batches;
}

/** `--skip-drain` value -> which instances skip drain: `*` (all) or `<ig>` / `<ig>/<uuid>` entries. */
export function skipDrainMatcher(value: string | null | undefined): (group: string, uuid: string) => boolean {
  if (!value) return () => false;
  const entries = value.split(',').map((e) => e.trim()).filter(Boolean);
  return (group, uuid) => entries.some((e) => e === '*' || e === 'true' || e === group || e === `${group}/${uuid}`);
}

/** After a deploy that changed instances: run_script post-deploy on every instance with a VM. */
async function postDeploy(director: Director, plan: DeploymentPlan): Promise<void> {
  const agents = plan.groups.flatMap((g) => g.instances.flatMap((i) => (i.vm ? [i.vm.agentId] : [])));
  await inParallel(agents, 10, (agentId) => runInstanceScript(director.agents.forAgent(agentId), 'post-deploy'));
}

/** A dry run plans and renders but must leave nothing behind: drop instance rows it created. */
async function forgetDryRunInstances(director: Director, plan: DeploymentPlan): Promise<void> {
  for (const instance of plan.groups.flatMap((g) => g.instances)) {
    if (instance.vm || instance.previousSpec) continue;
    await releaseInstanceIps(director.db, instance.dbId);
    await director.db.deleteFrom('rendered_templates_archives').where('instance_id', '=', instance.dbId).execute();
    await director.db.deleteFrom('instances').where('id', '=', instance.dbId).where('update_completed', '=', 0).execute();
  }
}

export const updateDeployment: TaskJob = async (director, task, payload: UpdateDeploymentPayload) => {
  const manifest = await withAddons(director, await interpolatedManifest(director, payload.deployment_name, payload.manifest_text));
  await migrateInstanceGroups(director.db, manifest, task.debug, payload.dry_run ?? false);
  let stored = new Map<string, StoredInstance>();
  let unresponsive: PlannedInstance[] = [];
  const { plan, rendered } = await prepare(director, task, manifest, payload.manifest_text, (g) => g.lifecycle !== 'errand', async (planned) => {
    if (payload.dry_run) return;
    stored = withManifestStarts(planned, await storedInstances(director, planned));
    leaveDetachedAlone(planned, stored);
    unresponsive = await unresponsiveInstances(director, planned, stored, payload.fix ?? false);
  });
  if (payload.dry_run) {
    await forgetDryRunInstances(director, plan);
    return `/deployments/${manifest.name}`;
  }
  const compiled = await compilePlan(director, task, plan);
  const obsolete = await obsoleteInstances(director.db, plan.deploymentId, manifest.instance_groups);
  await deleteInstances(director, task, 'Deleting unneeded instances', obsolete, false);
  await deleteUnresponsiveVms(director, unresponsive, (line) => task.debug.info(line));
  await createMissingVms(director, task, plan);
  const changed = await updateGroups(director, task, plan, rendered, compiled, true, {
    stored,
    recreate: payload.recreate ?? false,
    recreatePersistentDisks: payload.recreate_persistent_disks ?? false,
    skipDrain: skipDrainMatcher(payload.skip_drain),
    canaries: payload.canaries,
    maxInFlight: payload.max_in_flight,
    onPlanned: (name, change) => task.debug.info(`Instance ${name}: ${change}`),
  });
  if (changed || obsolete.length) await postDeploy(director, plan);
  await saveDeployment(director, plan);
  await applyManifestStates(director, task, manifest);
  return `/deployments/${manifest.name}`;
};

export const deleteDeployment: TaskJob = async (director, task, payload: DeleteDeploymentPayload) => {
  const deployment = await findDeployment(director, payload.deployment_name);
  const rows = await director.db.selectFrom('instances').selectAll().where('deployment_id', '=', deployment.id).execute();
  await deleteInstances(director, task, 'Deleting instances', rows, payload.force ?? false);
  const stage = task.events.beginStage('Removing deployment artifacts', 3);
  await stage.track('Detaching stemcells', () => director.db.deleteFrom('deployments_stemcells').where('deployment_id', '=', deployment.id).execute());
  await stage.track('Detaching releases', () => director.db.deleteFrom('deployments_release_versions').where('deployment_id', '=', deployment.id).execute());
  await stage.track('Destroying deployment', async () => {
    await director.db.deleteFrom('link_providers').where('deployment_id', '=', deployment.id).execute();
    await director.db.deleteFrom('deployment_variables').where('deployment_id', '=', deployment.id).execute();
    await director.db.deleteFrom('deployments').where('id', '=', deployment.id).execute();
  });
  return `/deployments/${payload.deployment_name}`;
};

/** One VM-info line (director-api.md §3.2) per VM, with live state from the agent. */
export const vms: TaskJob = async (director, task, payload: VmsPayload) => {
  const deployment = await findDeployment(director, payload.deployment_name);
  const manifest = deployment.manifest_text ? safeParse(deployment.name, deployment.manifest_text) : null;
  const instances = await director.db
    .selectFrom('instances')
    .selectAll()
    .where('deployment_id', '=', deployment.id)
    .where('compilation', '=', 0)
    .orderBy('job')
    .orderBy('index')
    .execute();
  const lines = await Promise.all(instances.map((instance) => vmInfoLines(director, instance, manifest, payload.instance_details ?? false)));
  for (const line of lines.flat()) await task.appendResult(JSON.stringify(line));
  return '';
};

function safeParse(name: string, text: string): DeploymentManifest | null {
  try {
    return parseManifestFor(name, text);
  } catch {
    return null;
  }
}

async function vmInfoLines(director: Director, instance: InstanceRow, manifest: DeploymentManifest | null, withoutVm: boolean) {
  const vmRows = await director.db.selectFrom('vms').selectAll().where('instance_id', '=', instance.id).execute();
  const reserved = await director.db.selectFrom('ip_addresses').select('address_str').where('instance_id', '=', instance.id).execute();
  const group = manifest?.instance_groups.find((g) => g.name === instance.job);
  const base = {
    ...(await diskCids(director, instance.id)), job_name: instance.job, index: instance.index, state: instance.state,
    vm_type: group?.vm_type ?? null, az: instance.availability_zone, id: instance.uuid, bootstrap: instance.bootstrap === 1,
    ignore: instance.ignore === 1,
  };
  if (vmRows.length === 0) {
    if (!withoutVm) return [];
    return [{
      ...base, vm_cid: null, active: false, vm_created_at: null, cloud_properties: {}, ips: reserved.map((r) => r.address_str),
      agent_id: null, job_state: null, vitals: null, processes: [], stemcell: null,
    }];
  }
  return Promise.all(vmRows.map(async (vm) => {
    const state = await director.agents
      .forAgent(vm.agent_id)
      .call<AgentState>('get_state', ['full'], { timeoutMs: agentTimeouts(director.config).vm_state_seconds * 1000 })
      .catch(() => null);
    const liveIps = Object.values(state?.networks ?? {}).map((n) => n.ip).filter((ip): ip is string => typeof ip === 'string');
    return {
      ...base,
      vm_cid: vm.cid,
      active: vm.active === 1,
      vm_created_at: new Date(vm.created_at).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      cloud_properties: vm.cloud_properties_json ? JSON.parse(vm.cloud_properties_json) : {},
      ips: liveIps.length ? liveIps : reserved.map((r) => r.address_str),
      agent_id: vm.agent_id,
      job_state: state ? state.job_state : 'unresponsive agent',
      vitals: state?.vitals ?? null,
      processes: state?.processes ?? [],
      stemcell: { name: vm.stemcell_name, version: vm.stemcell_version, api_version: vm.stemcell_api_version },
    };
  }));
}

/** disk_cid (the active disk) and disk_cids (all of the instance's disks) of a VM-info line. */
async function diskCids(director: Director, instanceId: number) {
  const disks = await instanceDisks(director.db, instanceId);
  return { disk_cid: disks.find((d) => d.active === 1)?.disk_cid ?? null, disk_cids: disks.map((d) => d.disk_cid) };
}

interface ErrandResult {
  exit_code: number;
  stdout: string;
  stderr: string;
}

export const runErrand: TaskJob = async (director, task, payload: RunErrandPayload) => {
  const deployment = await findDeployment(director, payload.deployment_name);
  if (!deployment.manifest_text) throw notFoundDeployment(payload.deployment_name);
  const manifest = await withAddons(director, await interpolatedManifest(director, deployment.name, deployment.manifest_text));
  const errandGroup = manifest.instance_groups.find((g) => g.name === payload.errand_name && g.lifecycle === 'errand');
  if (!errandGroup) throw new CapstanError(`Errand '${payload.errand_name}' doesn't exist`, 140001, 404);

  const { plan, rendered } = await prepare(director, task, manifest, deployment.manifest_text, (g) => g === errandGroup);
  const compiled = await compilePlan(director, task, plan);
  const instances = plan.groups[0].instances;
  const counts = { succeeded: 0, errored: 0 };
  try {
    await createMissingVms(director, task, plan);
    await updateGroups(director, task, plan, rendered, compiled, false);
    const stage = task.events.beginStage('Running errand', instances.length);
    for (const instance of instances) {
      await stage.track(instanceName(instance), async () => {
        const agent = director.agents.forAgent(instance.vm!.agentId);
        const result = await agent.call<ErrandResult>('run_errand', []);
        const logs = await agent.call<{ blobstore_id: string }>('fetch_logs', ['job', null]).catch(() => null);
        if (result.exit_code === 0) counts.succeeded++;
        else counts.errored++;
        await task.appendResult(JSON.stringify({
          exit_code: result.exit_code, stdout: result.stdout, stderr: result.stderr,
          logs: { blobstore_id: logs?.blobstore_id ?? null },
          instance: { group: errandGroup.name, id: instance.uuid },
        }));
      });
    }
  } finally {
    if (!payload.keep_alive) await deleteErrandVms(director, task, errandGroup.name, instances.flatMap((i) => (i.vm ? [{ name: instanceName(i), dbId: i.dbId, vm: i.vm }] : [])));
  }
  return `${counts.succeeded} succeeded, ${counts.errored} errored, 0 canceled`;
};

/** Errand VMs go away after the run; the instance (uuid, IP) stays for the next run. */
async function deleteErrandVms(director: Director, task: TaskContext, group: string, instances: Array<{ name: string; dbId: number; vm: { id: number; cid: string } }>) {
  if (instances.length === 0) return;
  const stage = task.events.beginStage('Deleting errand instances', instances.length, [group]);
  for (const instance of instances) {
    await stage.track(instance.name, async () => {
      await deleteVm(director, instance.vm);
      await director.db.updateTable('instances').set({ spec_json: null, update_completed: 0 }).where('id', '=', instance.dbId).execute();
    });
  }
}

export const taskJobs: Record<string, TaskJob> = {
  update_deployment: updateDeployment,
  delete_deployment: deleteDeployment,
  vms,
  run_errand: runErrand,
};
