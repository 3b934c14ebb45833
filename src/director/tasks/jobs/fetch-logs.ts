// fetch_logs (GET /deployments/<d>/jobs/<ig|*>/<id|*>/logs): the task result is the tarball's blobstore id.
import type { TaskJob } from '../../context.js';
import { findInstances } from '../../day2/instances.js';
import { fetchInstanceLogs } from '../../day2/logs.js';

export interface FetchLogsPayload {
  deployment_name: string;
  instance_group: string;
  instance_id: string;
  log_type: string;
  filters: string[] | null;
}

export const fetchLogs: TaskJob = async (director, task, payload: FetchLogsPayload) => {
  const rows = await findInstances(director.db, payload.deployment_name, payload.instance_group, payload.instance_id);
  return fetchInstanceLogs(director, task, rows, payload.log_type, payload.filters);
};
