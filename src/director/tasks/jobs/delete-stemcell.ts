// delete_stemcell: CPI delete_stemcell, then the row; refused while a deployment uses the stemcell.
import { CapstanError, errorMessage } from '../../../common/errors.js';
import type { TaskJob } from '../../context.js';
import { cpiRegistry } from '../../cpis.js';

export interface DeleteStemcellPayload {
  name: string;
  version: string;
  force?: boolean;
}

export const deleteStemcell: TaskJob = async (director, task, payload: DeleteStemcellPayload) => {
  const { db } = director;
  const label = `${payload.name}/${payload.version}`;
  // one row per CPI the stemcell was uploaded to
  const rows = await db.selectFrom('stemcells').selectAll().where('name', '=', payload.name).where('version', '=', payload.version).orderBy('id').execute();
  if (rows.length === 0) throw new CapstanError(`Stemcell '${label}' doesn't exist`, 50003, 404);
  const users = await db
    .selectFrom('deployments_stemcells')
    .innerJoin('deployments', 'deployments.id', 'deployments_stemcells.deployment_id')
    .select('deployments.name')
    .where('deployments_stemcells.stemcell_id', 'in', rows.map((r) => r.id))
    .execute();
  if (users.length > 0) {
    throw new CapstanError(`Stemcell '${label}' is still in use by: ${users.map((u) => u.name).join(', ')}`, 50004, 400);
  }
  const fromCloud = task.events.beginStage('Deleting stemcell from cloud', rows.length);
  for (const stemcell of rows) {
    await fromCloud.track(`${label} (${stemcell.cid})${stemcell.cpi ? ` (cpi: ${stemcell.cpi})` : ''}`, async () => {
      try {
        await (await cpiRegistry(director).get(stemcell.cpi)).deleteStemcell(stemcell.cid);
      } catch (err) {
        if (!payload.force) throw err;
        task.events.warning(`Deleting stemcell '${stemcell.cid}' from the cloud failed (ignored with --force): ${errorMessage(err)}`);
      }
    });
  }
  await task.events.beginStage('Deleting stemcell metadata', 1).track(label, async () => {
    await db.deleteFrom('stemcells').where('id', 'in', rows.map((r) => r.id)).execute();
  });
  return `/stemcells/${label}`;
};
