// Deleting an instance (director-api.md §6.5): stop its jobs, delete its VM, release its IPs and
// rendered templates, forget it. With `force`, an unreachable agent or a failing CPI is not fatal.
import type { Director, TaskContext } from '../context.js';
import type { InstancesTable } from '../db/schema.js';
import type { Selectable } from 'kysely';
import { inParallel, stopSequence } from './instance-updater.js';
import { releaseInstanceIps } from './planner.js';
import { cleanupRenderedTemplates } from './deployer.js';
import { deleteVm } from './vm-creator.js';
import { detachInstanceDisks, orphanInstanceDisks } from './disk-manager.js';
import type { ApplySpec } from '../../common/protocol.js';

/** Instances are deleted in parallel (BOSH's max_threads), each VM takes its jobs' stop time. */
const MAX_DELETE_THREADS = 10;

export type InstanceRow = Selectable<InstancesTable>;

export const rowName = (row: InstanceRow) => `${row.job}/${row.uuid} (${row.index})`;

export async function deleteInstance(director: Director, task: TaskContext, row: InstanceRow, force: boolean): Promise<void> {
  const tolerate = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      if (!force) throw err;
      task.debug.warn({ err, instance: rowName(row) }, `ignoring failure to ${what} (force)`);
    }
  };
  const vms = await director.db.selectFrom('vms').select(['id', 'cid', 'agent_id']).where('instance_id', '=', row.id).execute();
  for (const vm of vms) {
    if (row.spec_json && row.state !== 'stopped') {
      const spec = JSON.parse(row.spec_json) as ApplySpec;
      await tolerate('stop the instance', () => stopSequence(director.agents.forAgent(vm.agent_id), spec, null, 'shutdown'));
    }
    await tolerate('detach the persistent disks', () => detachInstanceDisks(director, row.id, { cid: vm.cid, agentId: vm.agent_id }, force));
    await tolerate('delete the VM', () => deleteVm(director, vm));
    await director.db.deleteFrom('vms').where('id', '=', vm.id).execute();
  }
  await orphanInstanceDisks(director, row);
  await releaseInstanceIps(director.db, row.id);
  await cleanupRenderedTemplates(director, row.id, null);
  await director.db.deleteFrom('instances').where('id', '=', row.id).execute();
}

/** Stage "Deleting unneeded instances" (or "Deleting instances") over the given rows. */
export async function deleteInstances(director: Director, task: TaskContext, stageName: string, rows: InstanceRow[], force: boolean): Promise<void> {
  if (rows.length === 0) return;
  const stage = task.events.beginStage(stageName, rows.length);
  await inParallel(rows, MAX_DELETE_THREADS, (row) => stage.track(rowName(row), () => deleteInstance(director, task, row, force)).then(() => undefined), () => task.checkpoint());
}
