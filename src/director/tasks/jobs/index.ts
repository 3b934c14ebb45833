// Every task type the director runs, in one map: the deploy jobs plus the jobs here. Each task
// records a begin and an end event in the director's event log (GET /events).
import type { TaskJob } from '../../context.js';
import { taskJobs as deployJobs } from '../../deploy/jobs.js';
import { withEvents } from '../../day2/events.js';
import { updateRelease } from './update-release.js';
import { updateStemcell } from './update-stemcell.js';
import { deleteRelease } from './delete-release.js';
import { deleteStemcell } from './delete-stemcell.js';
import { changeJobState, updateInstance } from './instance-state.js';
import { deleteVmJob } from './delete-vm.js';
import { cckApply, cckScan, cckScanAndFix } from './cloud-check.js';
import { fetchLogs } from './fetch-logs.js';
import { sshJob } from './ssh.js';
import { cleanup } from './cleanup.js';
import { diskJobs } from './disks.js';

/** PUT /deployments/<d>/jobs/...?state= is an update_deployment task that changes instance states. */
const updateDeployment: TaskJob = (director, task, payload) =>
  payload?.job_state ? changeJobState(director, task, payload) : deployJobs.update_deployment(director, task, payload);

const jobs: Record<string, TaskJob> = {
  ...deployJobs, // update_deployment, delete_deployment, vms, run_errand
  update_deployment: updateDeployment,
  update_release: updateRelease,
  update_stemcell: updateStemcell,
  delete_release: deleteRelease,
  delete_stemcell: deleteStemcell,
  update_instance: updateInstance,
  delete_vm: deleteVmJob,
  cck_scan: cckScan,
  cck_apply: cckApply,
  cck_scan_and_fix: cckScanAndFix,
  fetch_logs: fetchLogs,
  ssh: sshJob,
  delete_artifacts: cleanup,
  ...diskJobs, // delete_orphan_disks, orphan_disk, attach_disk
};

/** What each task type does to which object, as the event log names it. */
const EVENT_SUBJECTS: Record<string, (payload: any) => { action: string; objectType: string; objectName: string | null; deployment?: string | null }> = {
  update_deployment: (p) => ({ action: p?.job_state ? String(p.job_state) : 'update', objectType: 'deployment', objectName: p?.deployment_name ?? null, deployment: p?.deployment_name }),
  delete_deployment: (p) => ({ action: 'delete', objectType: 'deployment', objectName: p?.deployment_name ?? null, deployment: p?.deployment_name }),
  run_errand: (p) => ({ action: 'run', objectType: 'errand', objectName: p?.errand_name ?? null, deployment: p?.deployment_name }),
  update_release: () => ({ action: 'create', objectType: 'release', objectName: null }),
  delete_release: (p) => ({ action: 'delete', objectType: 'release', objectName: p?.name ?? null }),
  update_stemcell: () => ({ action: 'create', objectType: 'stemcell', objectName: null }),
  delete_stemcell: (p) => ({ action: 'delete', objectType: 'stemcell', objectName: p?.name ? `${p.name}/${p.version}` : null }),
  cck_scan_and_fix: (p) => ({ action: 'scan and fix', objectType: 'deployment', objectName: p?.deployment_name ?? null, deployment: p?.deployment_name }),
  update_instance: (p) => ({ action: String(p?.action ?? 'update'), objectType: 'instance', objectName: p ? `${p.instance_group}/${p.instance_id}` : null, deployment: p?.deployment_name }),
  delete_orphan_disks: (p) => ({ action: 'delete', objectType: 'disk', objectName: (p?.orphan_disk_cids ?? []).join(', ') || null }),
  orphan_disk: (p) => ({ action: 'orphan', objectType: 'disk', objectName: p?.disk_cid ?? null }),
  attach_disk: (p) => ({ action: 'attach', objectType: 'disk', objectName: p?.disk_cid ?? null, deployment: p?.deployment_name }),
};

function withTaskEvents(type: string, job: TaskJob): TaskJob {
  const subject = EVENT_SUBJECTS[type];
  if (!subject) return job;
  return (director, task, payload) => {
    const { deployment, ...rest } = subject(payload);
    return withEvents(director.db, { user: task.username, task: task.taskId, deployment: deployment ?? null, ...rest }, () => job(director, task, payload));
  };
}

export const allTaskJobs: Record<string, TaskJob> = Object.fromEntries(Object.entries(jobs).map(([type, job]) => [type, withTaskEvents(type, job)]));
