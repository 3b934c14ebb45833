// delete_artifacts (POST /cleanup): deletes what the clean-up plan lists, through the release and
// stemcell deletion jobs.
import type { TaskJob } from '../../context.js';
import { cleanupPlan } from '../../day2/cleanup.js';
import { deleteRelease } from './delete-release.js';
import { deleteStemcell } from './delete-stemcell.js';
import { deleteOrphanDisks } from './disks.js';

export interface CleanupPayload {
  remove_all?: boolean;
  keep_orphaned_disks?: boolean;
}

export const cleanup: TaskJob = async (director, task, payload: CleanupPayload) => {
  const plan = await cleanupPlan(director.db, payload.remove_all ?? false, payload.keep_orphaned_disks ?? false);
  let releases = 0;
  for (const release of plan.releases) {
    for (const version of release.versions) {
      await task.checkpoint();
      await deleteRelease(director, task, { name: release.name, version, force: false });
      releases++;
    }
  }
  // the plan lists a stemcell once per CPI; deleting it deletes it from every CPI
  for (const label of new Set(plan.stemcells.map((s) => `${s.name}\0${s.version}`))) {
    const [name, version] = label.split('\0');
    await task.checkpoint();
    await deleteStemcell(director, task, { name, version, force: false });
  }
  if (plan.orphaned_disks.length) await deleteOrphanDisks(director, task, { orphan_disk_cids: plan.orphaned_disks.map((d) => d.disk_cid) });
  return `Deleted ${releases} release(s), ${plan.stemcells.length} stemcell(s), ${plan.orphaned_disks.length} orphaned disk(s), 0 orphaned network(s), 0 exported release(s), 0 dns blob(s)`;
};
