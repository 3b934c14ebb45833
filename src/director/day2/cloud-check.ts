// Cloud check (director-api.md §9): scanning a deployment's VMs for unresponsive agents and missing
// VMs, the stored problems with their resolutions, applying resolutions, and scan_and_fix.
import type { Kysely, Selectable } from 'kysely';
import type { AgentState } from '../../common/protocol.js';
import { CpiError, CpiErrorType } from '../../cpi/cpi.js';
import { errorMessage } from '../../common/errors.js';
import type { Database } from '../db/schema.js';
import type { Director, EventStep, TaskContext } from '../context.js';
import { cpiRegistry, DEFAULT_CPI } from '../cpis.js';
import { inParallel } from '../deploy/instance-updater.js';
import { day2Db, type DeploymentProblemsTable } from './db.js';
import { activeVm, findDeploymentRow, type InstanceRow } from './instances.js';
import { changeInstanceState, loadDeploymentContext, type DeploymentContext } from './state-change.js';
import { recordEvent } from './events.js';
import {
  DISK_AUTO_RESOLUTION, DISK_RESOLUTIONS, diskProblemDescription, isDiskProblem, resolveDiskProblem, scanDisks,
  type DiskProblemData, type DiskProblemType,
} from './disk-problems.js';
import { agentTimeouts } from '../config.js';

export type ProblemType = 'unresponsive_agent' | 'missing_vm' | DiskProblemType;
type ProblemRow = Selectable<DeploymentProblemsTable>;

interface ProblemData {
  vm_cid: string;
  agent_id: string;
  instance_id: string; // uuid
  instance_group: string;
  index: number;
}

const MAX_SCAN_THREADS = 16;

export const RESOLUTIONS: Record<ProblemType, Array<{ name: string; plan: string }>> = {
  unresponsive_agent: [
    { name: 'ignore', plan: 'Skip for now' },
    { name: 'reboot_vm', plan: 'Reboot VM' },
    { name: 'recreate_vm_without_wait', plan: 'Recreate VM without waiting for processes to start' },
    { name: 'recreate_vm', plan: 'Recreate VM and wait for processes to start' },
    { name: 'delete_vm', plan: 'Delete VM' },
    { name: 'delete_vm_reference', plan: 'Delete VM reference (forceful; may need to manually delete VM from the Cloud to avoid IP conflicts)' },
  ],
  missing_vm: [
    { name: 'ignore', plan: 'Skip for now' },
    { name: 'recreate_vm_without_wait', plan: 'Recreate VM without waiting for processes to start' },
    { name: 'recreate_vm', plan: 'Recreate VM and wait for processes to start' },
    { name: 'delete_vm_reference', plan: 'Delete VM reference' },
  ],
  ...DISK_RESOLUTIONS,
};

const AUTO_RESOLUTION: Record<ProblemType, string> = { unresponsive_agent: 'ignore', missing_vm: 'recreate_vm_without_wait', ...DISK_AUTO_RESOLUTION };

function description(type: ProblemType, data: ProblemData | DiskProblemData): string {
  if (isDiskProblem(type)) return diskProblemDescription(type, data as DiskProblemData);
  const name = `${data.instance_group}/${data.instance_id} (${data.index})`;
  return type === 'missing_vm'
    ? `VM for '${name}' with cloud ID '${data.vm_cid}' missing.`
    : `VM for '${name}' with cloud ID '${data.vm_cid}' is not responding.`;
}

/** The problem as GET /deployments/<d>/problems shows it (§2.6). */
export function problemView(row: ProblemRow) {
  const type = row.type as ProblemType;
  const data = JSON.parse(row.data_json) as ProblemData | DiskProblemData;
  return { id: row.id, type, data, description: description(type, data), resolutions: RESOLUTIONS[type], instance_group: data.instance_group };
}

export async function openProblems(db: Kysely<Database>, deploymentName: string): Promise<ProblemRow[]> {
  const deployment = await findDeploymentRow(db, deploymentName);
  return day2Db(db).selectFrom('deployment_problems').selectAll().where('deployment_id', '=', deployment.id).where('state', '=', 'open').orderBy('id').execute();
}

/** Stage "Scanning N VMs": asks every (not ignored) VM's agent for its state; a silent one is unresponsive or missing. */
export async function scanVms(director: Director, task: TaskContext, deploymentName: string, only?: (row: InstanceRow) => boolean): Promise<ProblemRow[]> {
  const db = day2Db(director.db);
  const deployment = await findDeploymentRow(director.db, deploymentName);
  const rows = (await director.db.selectFrom('instances').selectAll().where('deployment_id', '=', deployment.id).where('compilation', '=', 0).orderBy('job').orderBy('index').execute())
    .filter((r) => !only || only(r));
  const withVm = (await Promise.all(rows.map(async (row) => ({ row, vm: await activeVm(director.db, row.id) })))).filter((x) => x.vm);
  const checked = withVm.filter((x) => x.row.ignore === 0);
  const found: Array<{ type: ProblemType; data: ProblemData | DiskProblemData; resourceId?: number }> = [];
  const stage = task.events.beginStage(`Scanning ${withVm.length} VMs`, 2);
  await stage.track('Checking VM states', () =>
    inParallel(checked, MAX_SCAN_THREADS, async ({ row, vm }) => {
      const type = await vmProblem(director, vm!);
      if (type) found.push({ type, data: { vm_cid: vm!.cid, agent_id: vm!.agent_id, instance_id: row.uuid, instance_group: row.job, index: row.index } as ProblemData });
    }),
  );
  const count = (t: ProblemType) => found.filter((p) => p.type === t).length;
  const ignored = withVm.length - checked.length;
  const summary = `${checked.length - found.length} OK, ${count('unresponsive_agent')} unresponsive, ${count('missing_vm')} missing, 0 unbound${ignored ? `, ${ignored} ignored` : ''}`;
  await stage.track(summary, async () => undefined);
  // scan_and_fix (only named instances) looks at VMs only
  const disks = await scanDisks(director, only ? [] : rows, new Set(found.map((p) => (p.data as ProblemData).agent_id)));
  const diskStage = task.events.beginStage(`Scanning ${disks.total} persistent disks`, 2);
  await diskStage.track('Looking for inactive disks', async () => undefined);
  await diskStage.track(disks.summary, async () => undefined);
  found.push(...disks.found);

  await db.updateTable('deployment_problems').set({ state: 'closed' }).where('deployment_id', '=', deployment.id).where('state', '=', 'open').execute();
  const created: ProblemRow[] = [];
  for (const problem of found.sort((a, b) => a.data.instance_group.localeCompare(b.data.instance_group) || a.data.index - b.data.index)) {
    const instance = rows.find((r) => r.uuid === problem.data.instance_id)!;
    created.push(await db.insertInto('deployment_problems')
      .values({ deployment_id: deployment.id, type: problem.type, resource_id: problem.resourceId ?? instance.id, data_json: JSON.stringify(problem.data), state: 'open', created_at: new Date().toISOString() })
      .returningAll()
      .executeTakeFirstOrThrow());
  }
  return created;
}

async function vmProblem(director: Director, { agent_id: agentId, cid, cpi }: { agent_id: string; cid: string; cpi: string }): Promise<ProblemType | null> {
  try {
    await director.agents.forAgent(agentId).call<AgentState>('get_state', [], { timeoutMs: agentTimeouts(director.config).scan_seconds * 1000 });
    return null;
  } catch {
    const exists = await (await cpiRegistry(director).forVm({ cid, cpi })).hasVm(cid).catch(() => true); // has_vm not implemented: assume it exists
    return exists ? 'unresponsive_agent' : 'missing_vm';
  }
}

/**
 * Stage "Applying problem resolutions": one step per problem (`<description> (<type> <id>): <plan>`).
 * `resolutions` maps problem ids to resolution names; null or absent means the auto resolution.
 * Errors are collected and fail the task at the end.
 */
export async function applyResolutions(director: Director, task: TaskContext, deploymentName: string, problems: ProblemRow[], resolutions: Record<string, string | null>): Promise<number> {
  const ctx = await loadDeploymentContext(director, deploymentName);
  const stage = task.events.beginStage('Applying problem resolutions', problems.length);
  const errors: string[] = [];
  let resolved = 0;
  for (const problem of problems) {
    await task.checkpoint();
    const view = problemView(problem);
    const name = resolutions[String(problem.id)] ?? AUTO_RESOLUTION[view.type];
    const resolution = view.resolutions.find((r) => r.name === name);
    try {
      if (!resolution) throw new Error(`Invalid resolution '${name}' for problem ${problem.id} (${view.type})`);
      await stage.track(`${view.description} (${view.type} ${problem.resource_id}): ${resolution.plan}`, (step) => resolve(director, ctx, problem, view.data, name!, step));
      await day2Db(director.db).updateTable('deployment_problems').set({ state: 'resolved' }).where('id', '=', problem.id).execute();
      await recordEvent(director.db, {
        user: task.username, action: name!, objectType: 'instance', objectName: `${view.data.instance_group}/${view.data.instance_id}`,
        task: task.taskId, deployment: deploymentName, instance: `${view.data.instance_group}/${view.data.instance_id}`, context: { problem: view.type },
      });
      resolved++;
    } catch (err) {
      errors.push(`Error resolving problem '${problem.id}': ${errorMessage(err)}`);
    }
  }
  if (errors.length) throw new Error(errors.join('\n'));
  return resolved;
}

async function resolve(director: Director, ctx: DeploymentContext, problem: ProblemRow, problemData: ProblemData | DiskProblemData, name: string, step: EventStep): Promise<void> {
  if (isDiskProblem(problem.type)) return resolveDiskProblem(director, problem.resource_id, problemData as DiskProblemData, name, step);
  const data = problemData as ProblemData;
  const row = await director.db.selectFrom('instances').selectAll().where('id', '=', problem.resource_id).executeTakeFirst();
  if (!row) throw new Error(`Instance '${data.instance_group}/${data.instance_id}' no longer exists`);
  const vm = await director.db.selectFrom('vms').selectAll().where('cid', '=', data.vm_cid).executeTakeFirst();
  switch (name) {
    case 'ignore':
      return;
    case 'recreate_vm':
    case 'recreate_vm_without_wait':
      return changeInstanceState(director, ctx, row, 'recreate', step, { ignoreUnresponsiveAgent: true, noWait: name === 'recreate_vm_without_wait' });
    case 'reboot_vm':
      return rebootVm(director, ctx, row, data, step);
    case 'delete_vm': {
      const cpi = await cpiRegistry(director).forVm({ cid: data.vm_cid, cpi: vm?.cpi ?? DEFAULT_CPI });
      if (await cpi.hasVm(data.vm_cid).catch(() => true)) await cpi.deleteVm(data.vm_cid);
      return forgetVm(director, vm?.id);
    }
    case 'delete_vm_reference':
      return forgetVm(director, vm?.id);
    default:
      throw new Error(`Unknown resolution '${name}'`);
  }
}

/** A CPI that cannot reboot (NotImplemented, like the dummy CPI) gets a recreate instead. */
async function rebootVm(director: Director, ctx: DeploymentContext, row: InstanceRow, data: ProblemData, step: EventStep): Promise<void> {
  try {
    const vm = await director.db.selectFrom('vms').select('cpi').where('cid', '=', data.vm_cid).executeTakeFirst();
    const cpi = await cpiRegistry(director).forVm({ cid: data.vm_cid, cpi: vm?.cpi ?? DEFAULT_CPI });
    if (!cpi.rebootVm) throw new CpiError(CpiErrorType.NotImplemented, 'reboot_vm is not implemented');
    step.status('rebooting vm');
    await cpi.rebootVm(data.vm_cid);
    await director.agents.waitUntilReady(data.agent_id, director.config.agent_wait_timeout_seconds * 1000);
    await director.agents.forAgent(data.agent_id).call('start', []);
  } catch (err) {
    if (!(err instanceof CpiError && err.type === CpiErrorType.NotImplemented)) throw err;
    await changeInstanceState(director, ctx, row, 'recreate', step, { ignoreUnresponsiveAgent: true });
  }
}

async function forgetVm(director: Director, vmId: number | undefined): Promise<void> {
  if (vmId === undefined) return;
  await director.db.updateTable('ip_addresses').set({ vm_id: null }).where('vm_id', '=', vmId).execute();
  await director.db.deleteFrom('vms').where('id', '=', vmId).execute();
}
