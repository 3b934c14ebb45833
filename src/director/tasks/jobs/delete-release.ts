// delete_release: one version, or the whole release; packages and jobs no other version uses go too,
// with their blobs (and their compiled packages).
import type { Kysely } from 'kysely';
import { CapstanError, errorMessage } from '../../../common/errors.js';
import type { Database } from '../../db/schema.js';
import type { Director, TaskContext, TaskJob } from '../../context.js';

export interface DeleteReleasePayload {
  name: string;
  version?: string | null;
  force?: boolean;
}

export const deleteRelease: TaskJob = async (director, task, payload: DeleteReleasePayload) => {
  const { db } = director;
  const release = await db.selectFrom('releases').selectAll().where('name', '=', payload.name).executeTakeFirst();
  if (!release) throw new CapstanError(`Release '${payload.name}' doesn't exist`, 30005, 404);
  let versions = await db.selectFrom('release_versions').selectAll().where('release_id', '=', release.id).execute();
  if (payload.version) {
    versions = versions.filter((v) => v.version === payload.version);
    if (versions.length === 0) throw new CapstanError(`Release version '${payload.name}/${payload.version}' doesn't exist`, 30006, 404);
  }
  await refuseDeployed(db, payload.name, versions.map((v) => v.id));

  await db.transaction().execute(async (trx) => {
    const ids = versions.map((v) => v.id);
    await trx.deleteFrom('packages_release_versions').where('release_version_id', 'in', ids).execute();
    await trx.deleteFrom('release_versions_templates').where('release_version_id', 'in', ids).execute();
    await trx.deleteFrom('release_versions').where('id', 'in', ids).execute();
  });
  await deleteUnusedPackages(director, task, release.id, payload.force ?? false);
  await deleteUnusedJobs(director, task, release.id, payload.force ?? false);

  const remaining = await db.selectFrom('release_versions').select('id').where('release_id', '=', release.id).execute();
  if (remaining.length === 0) {
    await task.events.beginStage('Deleting release', 1).track(payload.name, async () => {
      await db.deleteFrom('releases').where('id', '=', release.id).execute();
    });
  }
  return `/release/${payload.name}`;
};

async function refuseDeployed(db: Kysely<Database>, name: string, versionIds: number[]): Promise<void> {
  const used = await db
    .selectFrom('deployments_release_versions')
    .innerJoin('deployments', 'deployments.id', 'deployments_release_versions.deployment_id')
    .innerJoin('release_versions', 'release_versions.id', 'deployments_release_versions.release_version_id')
    .select(['deployments.name as deployment', 'release_versions.version'])
    .where('deployments_release_versions.release_version_id', 'in', [0, ...versionIds])
    .execute();
  if (used.length > 0) {
    const list = used.map((u) => `'${name}/${u.version}' by '${u.deployment}'`).join(', ');
    throw new CapstanError(`Release '${name}' is still in use: ${list}`, 30007, 400);
  }
}

async function deleteUnusedPackages(director: Director, task: TaskContext, releaseId: number, force: boolean): Promise<void> {
  const { db } = director;
  const unused = await db
    .selectFrom('packages')
    .selectAll()
    .where('release_id', '=', releaseId)
    .where('id', 'not in', db.selectFrom('packages_release_versions').select('package_id'))
    .execute();
  const stage = task.events.beginStage('Deleting packages', unused.length);
  for (const pkg of unused) {
    await stage.track(`${pkg.name}/${pkg.version}`, async () => {
      const compiled = await db.selectFrom('compiled_packages').selectAll().where('package_id', '=', pkg.id).execute();
      for (const blob of [pkg.blobstore_id, ...compiled.map((c) => c.blobstore_id)]) await deleteBlob(director, task, blob, force);
      await db.deleteFrom('compiled_packages').where('package_id', '=', pkg.id).execute();
      await db.deleteFrom('packages').where('id', '=', pkg.id).execute();
    });
  }
}

async function deleteUnusedJobs(director: Director, task: TaskContext, releaseId: number, force: boolean): Promise<void> {
  const { db } = director;
  const unused = await db
    .selectFrom('templates')
    .selectAll()
    .where('release_id', '=', releaseId)
    .where('id', 'not in', db.selectFrom('release_versions_templates').select('template_id'))
    .execute();
  const stage = task.events.beginStage('Deleting jobs', unused.length);
  for (const job of unused) {
    await stage.track(`${job.name}/${job.version}`, async () => {
      await deleteBlob(director, task, job.blobstore_id, force);
      await db.deleteFrom('templates').where('id', '=', job.id).execute();
    });
  }
}

async function deleteBlob(director: Director, task: TaskContext, id: string | null, force: boolean): Promise<void> {
  if (!id) return;
  try {
    await director.blobstore.delete(id);
  } catch (err) {
    if (!force) throw err;
    task.events.warning(`Deleting blob '${id}' failed (ignored with --force): ${errorMessage(err)}`);
  }
}
