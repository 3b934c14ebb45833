// delete_artifacts (POST /cleanup): deletes what the clean-up plan lists, through the release and
// stemcell deletion jobs.
import type { TaskJob } from '../../context.js';
import { cleanupPlan } from '../../day2/cleanup.js';
import { deleteRelease } from './delete-release.js';
import { deleteStemcell } from './delete-stemcell.js';

export interface CleanupPayload {
  remove_all?: boolean;
  keep_orphaned_disks?: boolean;
}

export const cleanup: TaskJob = async (director, task, payload: CleanupPayload) => {
  const plan = await cleanupPlan(director.db, payload.remove_all ?? false);
  let releases = 0;
  for (const release of plan.releases) {
    for (const version of release.versions) {
      await task.checkpoint();
      await deleteRelease(director, task, { name: release.name, version, force: false });
      releases++;
    }
  }
  for (const stemcell of plan.stemcells) {
    await task.checkpoint();
    await deleteStemcell(director, task, { name: stemcell.name, version: stemcell.version, force: false });
  }
  return `Deleted ${releases} release(s), ${plan.stemcells.length} stemcell(s), 0 orphaned disk(s), 0 orphaned network(s), 0 exported release(s), 0 dns blob(s)`;
};
