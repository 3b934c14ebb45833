// Cloud check tasks (director-api.md §2.6, §9): cck_scan, cck_apply and the health monitor's
// cck_scan_and_fix, which recreates the unresponsive or missing VMs of the instances it names.
import type { Director, TaskContext, TaskJob } from '../../context.js';
import { applyResolutions, openProblems, scanVms } from '../../day2/cloud-check.js';
import { activeVm, findInstances, instanceLabel, type InstanceRow } from '../../day2/instances.js';
import { changeInstanceState, loadDeploymentContext } from '../../day2/state-change.js';

export interface ScanPayload {
  deployment_name: string;
}

export interface ApplyPayload {
  deployment_name: string;
  resolutions: Record<string, string | null>;
}

export interface ScanAndFixPayload {
  deployment_name: string;
  /** instance group -> instance uuids or indexes */
  jobs: Record<string, string[]>;
}

export const cckScan: TaskJob = async (director, task, payload: ScanPayload) => {
  await scanVms(director, task, payload.deployment_name);
  return 'scan complete';
};

export const cckApply: TaskJob = async (director, task, payload: ApplyPayload) => {
  const wanted = new Set(Object.keys(payload.resolutions));
  const problems = (await openProblems(director.db, payload.deployment_name)).filter((p) => wanted.has(String(p.id)));
  const resolved = await applyResolutions(director, task, payload.deployment_name, problems, payload.resolutions);
  return `${resolved} resolved`;
};

export const cckScanAndFix: TaskJob = async (director, task, payload: ScanAndFixPayload) => {
  const named = (row: InstanceRow) => row.ignore === 0 && (payload.jobs[row.job] ?? []).some((id) => String(id) === row.uuid || String(id) === String(row.index));
  const problems = await scanVms(director, task, payload.deployment_name, named);
  if (problems.length > 0) {
    const resolutions = Object.fromEntries(problems.map((p) => [String(p.id), 'recreate_vm']));
    await applyResolutions(director, task, payload.deployment_name, problems, resolutions);
  }
  await createMissingVms(director, task, payload.deployment_name, (await findInstances(director.db, payload.deployment_name)).filter(named));
  return 'scan and fix complete';
};

/** Named instances that should have a VM but have none (deleted with delete-vm): the monitor reports them too. */
async function createMissingVms(director: Director, task: TaskContext, deploymentName: string, rows: InstanceRow[]): Promise<void> {
  const missing: InstanceRow[] = [];
  for (const row of rows) if (row.state !== 'detached' && row.spec_json && !(await activeVm(director.db, row.id))) missing.push(row);
  if (missing.length === 0) return;
  const ctx = await loadDeploymentContext(director, deploymentName);
  const stage = task.events.beginStage('Creating missing vms', missing.length);
  for (const row of missing) {
    await task.checkpoint();
    await stage.track(instanceLabel(row), (step) => changeInstanceState(director, ctx, row, 'recreate', step));
  }
}
