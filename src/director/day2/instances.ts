// Finding the instances a day-2 request names: a deployment, an instance group (or `*`) and an
// index or uuid (or `*`), with the documented errors (director-api.md §1.4, §2.4).
import type { Kysely, Selectable } from 'kysely';
import { badRequest, notFound } from '../../common/errors.js';
import type { Database, InstancesTable, VmsTable } from '../db/schema.js';

export type InstanceRow = Selectable<InstancesTable>;
export type VmRow = Selectable<VmsTable>;

const UUID_ISH = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const instanceLabel = (row: InstanceRow): string => `${row.job}/${row.uuid} (${row.index})`;

export async function findDeploymentRow(db: Kysely<Database>, name: string) {
  const deployment = await db.selectFrom('deployments').selectAll().where('name', '=', name).executeTakeFirst();
  if (!deployment) throw notFound(`Deployment '${name}' doesn't exist`, 70000);
  return deployment;
}

/** `<index-or-uuid>` must be an integer or a uuid (400, code 70002). */
export function checkInstanceId(id: string): void {
  if (!/^\d+$/.test(id) && !UUID_ISH.test(id)) throw badRequest(`Invalid instance id or index '${id}'`, 70002);
}

/**
 * The deployment's (non-compilation) instances matching group and id; `*` or undefined mean all.
 * Naming one instance that does not exist is a 404 (code 70001).
 */
export async function findInstances(db: Kysely<Database>, deploymentName: string, group?: string, id?: string): Promise<InstanceRow[]> {
  const deployment = await findDeploymentRow(db, deploymentName);
  let query = db.selectFrom('instances').selectAll().where('deployment_id', '=', deployment.id).where('compilation', '=', 0);
  if (group && group !== '*') query = query.where('job', '=', group);
  if (id && id !== '*') {
    checkInstanceId(id);
    query = /^\d+$/.test(id) ? query.where('index', '=', Number(id)) : query.where('uuid', '=', id);
  }
  const rows = await query.orderBy('job').orderBy('index').execute();
  if (rows.length === 0 && group && group !== '*') {
    const what = id && id !== '*' ? `${group}/${id}` : group;
    throw notFound(`Instance '${what}' doesn't exist in deployment '${deploymentName}'`, 70001);
  }
  return rows;
}

export async function activeVm(db: Kysely<Database>, instanceId: number): Promise<VmRow | undefined> {
  return db.selectFrom('vms').selectAll().where('instance_id', '=', instanceId).where('active', '=', 1).executeTakeFirst();
}
