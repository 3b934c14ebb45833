// Every task type the director runs, in one map: the deploy jobs plus the upload/delete jobs here.
import type { TaskJob } from '../../context.js';
import { taskJobs as deployJobs } from '../../deploy/jobs.js';
import { updateRelease } from './update-release.js';
import { updateStemcell } from './update-stemcell.js';
import { deleteRelease } from './delete-release.js';
import { deleteStemcell } from './delete-stemcell.js';

export const allTaskJobs: Record<string, TaskJob> = {
  ...deployJobs, // update_deployment, delete_deployment, vms, run_errand
  update_release: updateRelease,
  update_stemcell: updateStemcell,
  delete_release: deleteRelease,
  delete_stemcell: deleteStemcell,
};
