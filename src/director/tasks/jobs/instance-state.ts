// Instance state change tasks (director-api.md §2.4): `PUT /deployments/<d>/jobs/...?state=` runs as
// an update_deployment task over the stored deployment; the per-instance `actions/<action>` form is
// an update_instance task touching only that instance.
import { resolveCount, inParallel } from '../../deploy/instance-updater.js';
import type { Director, TaskContext, TaskJob } from '../../context.js';
import { findInstances, instanceLabel, type InstanceRow } from '../../day2/instances.js';
import { changeInstanceState, loadDeploymentContext, updateBlockOf, type ActionOptions, type DeploymentContext, type InstanceAction } from '../../day2/state-change.js';
import { recordEvent } from '../../day2/events.js';

/** `state` query values -> actions. */
export const STATE_ACTIONS: Record<string, InstanceAction> = {
  started: 'start',
  stopped: 'stop',
  detached: 'detach',
  restart: 'restart',
  recreate: 'recreate',
};

export interface JobStatePayload {
  deployment_name: string;
  /** The state change marker: update_deployment tasks with it change states instead of deploying. */
  job_state: string;
  instance_group?: string | null;
  instance_id?: string | null;
  skip_drain?: boolean;
  /** recreate unresponsive VMs too */
  fix?: boolean;
  /** plan only: nothing changes */
  dry_run?: boolean;
  canaries?: string | null;
  max_in_flight?: string | null;
}

export interface UpdateInstancePayload {
  deployment_name: string;
  instance_group: string;
  instance_id: string;
  action: 'start' | 'stop' | 'restart' | 'recreate';
  hard?: boolean;
  skip_drain?: boolean;
  ignore_unresponsive_agent?: boolean;
}

export const changeJobState: TaskJob = async (director, task, payload: JobStatePayload) => {
  const action = STATE_ACTIONS[payload.job_state];
  if (!action) throw new Error(`Unknown state '${payload.job_state}'`);
  const rows = await findInstances(director.db, payload.deployment_name, payload.instance_group ?? undefined, payload.instance_id ?? undefined);
  const ctx = await loadDeploymentContext(director, payload.deployment_name);
  if (payload.dry_run) return `/deployments/${payload.deployment_name}`;
  const single = Boolean(payload.instance_id && payload.instance_id !== '*');
  await runActions(director, task, ctx, rows, action, { skipDrain: payload.skip_drain, ignoreUnresponsiveAgent: payload.fix }, single ? {} : payload);
  return `/deployments/${payload.deployment_name}`;
};

export const updateInstance: TaskJob = async (director, task, payload: UpdateInstancePayload) => {
  const rows = await findInstances(director.db, payload.deployment_name, payload.instance_group, payload.instance_id);
  const ctx = await loadDeploymentContext(director, payload.deployment_name);
  const action: InstanceAction = payload.action === 'stop' && payload.hard ? 'detach' : payload.action;
  await runActions(director, task, ctx, rows, action, { skipDrain: payload.skip_drain, ignoreUnresponsiveAgent: payload.ignore_unresponsive_agent }, {});
  return `/deployments/${payload.deployment_name}`;
};

/** Group by group: canaries first, then max_in_flight at a time (the manifest's unless overridden). */
async function runActions(
  director: Director,
  task: TaskContext,
  ctx: DeploymentContext,
  rows: InstanceRow[],
  action: InstanceAction,
  options: ActionOptions,
  overrides: { canaries?: string | null; max_in_flight?: string | null },
): Promise<void> {
  const groups = [...new Set(rows.map((r) => r.job))];
  for (const group of groups) {
    // ignored instances are left alone unless named on their own
    const members = rows.filter((r) => r.job === group && (r.ignore === 0 || rows.length === 1));
    if (members.length === 0) continue;
    const update = updateBlockOf(ctx, members[0]);
    const canaries = Math.min(members.length, resolveCount(overrides.canaries ?? update.canaries, members.length));
    const maxInFlight = Math.max(1, resolveCount(overrides.max_in_flight ?? update.max_in_flight, members.length));
    const stage = task.events.beginStage('Updating instance', members.length, [group]);
    const run = (row: InstanceRow, canary: boolean) =>
      stage.track(`${instanceLabel(row)}${canary ? ' (canary)' : ''}`, async (step) => {
        await changeInstanceState(director, ctx, row, action, step, options);
        await recordEvent(director.db, {
          user: task.username, action, objectType: 'instance', objectName: `${row.job}/${row.uuid}`,
          task: task.taskId, deployment: ctx.name, instance: `${row.job}/${row.uuid}`,
        });
      });
    await inParallel(members.slice(0, canaries), maxInFlight, (r) => run(r, true), () => task.checkpoint());
    await inParallel(members.slice(canaries), maxInFlight, (r) => run(r, false), () => task.checkpoint());
  }
}
