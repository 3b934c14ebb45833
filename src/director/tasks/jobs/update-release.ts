// update_release: a release tarball uploaded through POST /releases becomes blobs in the blobstore and
// rows in releases / release_versions / packages / templates (director-api.md §6.5 "Upload release").
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely, Selectable } from 'kysely';
import { CapstanError } from '../../../common/errors.js';
import { readJobArchive, readReleaseTarball } from '../../../release/tarball.js';
import type { ReleaseManifest, ReleaseManifestJob, ReleaseManifestPackage } from '../../../release/types.js';
import type { Database, PackagesTable, TemplatesTable } from '../../db/schema.js';
import type { Director, TaskContext, TaskJob } from '../../context.js';
import { downloadRemoteTarball, verifyRemoteTarball } from './remote-tarball.js';
import { singleStep, withWorkDir } from './work-dir.js';

export interface UpdateReleasePayload {
  release_path: string;
  rebase?: boolean;
  fix?: boolean;
  /** POST /releases {location, sha1}: the task downloads the tarball to release_path first */
  location?: string;
  sha1?: string;
}

type PackageRow = Selectable<PackagesTable>;
type TemplateRow = Selectable<TemplatesTable>;

export const updateRelease: TaskJob = async (director, task, payload: UpdateReleasePayload) => {
  try {
    return await withWorkDir(director, 'release', (dir) => uploadRelease(director, task, payload, dir));
  } finally {
    await rm(payload.release_path, { force: true }); // the API's spooled upload
  }
};

async function uploadRelease(director: Director, task: TaskContext, payload: UpdateReleasePayload, dir: string): Promise<string> {
  const { events } = task;
  if (payload.location) await downloadRemoteRelease(events, payload.location, payload.release_path, payload.sha1);
  const manifest = await singleStep(events, 'Extracting release', 'Extracting release', () =>
    readReleaseTarball(payload.release_path, dir, { allowMissingPackages: true }),
  );
  const label = `${manifest.name}/${manifest.version}`;
  const releaseId = await singleStep(events, 'Verifying manifest', 'Verifying manifest', () => verifyManifest(director.db, manifest, payload));
  if (payload.rebase) events.warning('Rebasing releases is not supported yet; the version in release.MF is used');
  await singleStep(events, 'Resolving package dependencies', 'Resolving package dependencies', async () => undefined);
  await task.checkpoint();

  const packages = await storePackages(director, task, releaseId, manifest.packages, dir);
  const jobs = await storeJobs(director, task, releaseId, manifest.jobs, dir);

  await singleStep(events, 'Release has been created', label, () => recordReleaseVersion(director.db, releaseId, manifest, packages, jobs));
  return `Created release '${label}'`;
}

/** Stages "Downloading remote release" and "Verifying remote release" (when a digest is given). */
async function downloadRemoteRelease(events: TaskContext['events'], location: string, dest: string, sha1?: string): Promise<void> {
  await singleStep(events, 'Downloading remote release', 'Downloading remote release', () => downloadRemoteTarball('release', location, dest));
  if (sha1) await singleStep(events, 'Verifying remote release', 'Verifying remote release', () => verifyRemoteTarball('release', location, dest, sha1));
}

/**
 * Finds or creates the release row. An existing version may be uploaded again only with identical
 * contents (then nothing changes); the reader has already checked digests and the dependency graph.
 */
async function verifyManifest(db: Kysely<Database>, manifest: ReleaseManifest, payload: UpdateReleasePayload): Promise<number> {
  if ((manifest.compiled_packages?.length ?? 0) > 0) {
    throw new CapstanError(`Release '${manifest.name}/${manifest.version}' is a compiled release; compiled releases are not supported yet`, 30001, 400);
  }
  const release = await db.selectFrom('releases').select('id').where('name', '=', manifest.name).executeTakeFirst();
  const releaseId = release?.id ?? (await db.insertInto('releases').values({ name: manifest.name }).returning('id').executeTakeFirstOrThrow()).id;
  const version = await db.selectFrom('release_versions').selectAll().where('release_id', '=', releaseId).where('version', '=', manifest.version).executeTakeFirst();
  if (version && !payload.fix && version.commit_hash !== manifest.commit_hash) {
    throw new CapstanError(
      `Release '${manifest.name}/${manifest.version}' already exists with commit hash '${version.commit_hash}', not '${manifest.commit_hash}'`,
      30003,
      400,
    );
  }
  return releaseId;
}

async function storePackages(director: Director, task: TaskContext, releaseId: number, wanted: ReleaseManifestPackage[], dir: string): Promise<PackageRow[]> {
  const { db } = director;
  const existing = await db.selectFrom('packages').selectAll().where('release_id', '=', releaseId).execute();
  const find = (p: ReleaseManifestPackage) => existing.find((row) => row.name === p.name && row.version === p.version);
  const fresh = wanted.filter((p) => !find(p));
  const reused = wanted.length - fresh.length;
  const rows = wanted.map(find).filter((row): row is PackageRow => row !== undefined);

  if (reused > 0) await singleStep(task.events, `Processing ${reused} existing packages`, `Processing ${reused} existing packages`, async () => undefined);
  const stage = task.events.beginStage('Creating new packages', fresh.length);
  for (const pkg of fresh) {
    rows.push(await stage.track(`${pkg.name}/${pkg.version}`, async () => {
      const archive = join(dir, 'packages', `${pkg.name}.tgz`);
      const blobstoreId = existsSync(archive) ? await director.blobstore.put(archive) : await copyBlobByFingerprint(director, pkg, dir);
      return db
        .insertInto('packages')
        .values({
          release_id: releaseId,
          name: pkg.name,
          version: pkg.version,
          fingerprint: pkg.fingerprint,
          blobstore_id: blobstoreId,
          sha1: pkg.sha1,
          dependency_set_json: JSON.stringify(pkg.dependencies),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    }));
    await task.checkpoint();
  }
  return rows;
}

/** A package the CLI left out (it matched /packages/matches): copy the stored blob with that fingerprint. */
async function copyBlobByFingerprint(director: Director, pkg: ReleaseManifestPackage, dir: string): Promise<string> {
  const source = await director.db
    .selectFrom('packages')
    .select(['blobstore_id'])
    .where('fingerprint', '=', pkg.fingerprint)
    .where('blobstore_id', 'is not', null)
    .executeTakeFirst();
  if (!source?.blobstore_id) {
    throw new CapstanError(`Package '${pkg.name}/${pkg.version}' is not in the tarball and no package with fingerprint '${pkg.fingerprint}' is stored`, 30002, 400);
  }
  const copy = join(dir, `copy-${pkg.name}.tgz`);
  await director.blobstore.get(source.blobstore_id, copy);
  return director.blobstore.put(copy);
}

async function storeJobs(director: Director, task: TaskContext, releaseId: number, wanted: ReleaseManifestJob[], dir: string): Promise<TemplateRow[]> {
  const { db } = director;
  const existing = await db.selectFrom('templates').selectAll().where('release_id', '=', releaseId).execute();
  const find = (j: ReleaseManifestJob) => existing.find((row) => row.name === j.name && row.version === j.version);
  const fresh = wanted.filter((j) => !find(j));
  const reused = wanted.length - fresh.length;
  const rows = wanted.map(find).filter((row): row is TemplateRow => row !== undefined);

  if (reused > 0) await singleStep(task.events, `Processing ${reused} existing jobs`, `Processing ${reused} existing jobs`, async () => undefined);
  const stage = task.events.beginStage('Creating new jobs', fresh.length);
  for (const job of fresh) {
    rows.push(await stage.track(`${job.name}/${job.version}`, async () => {
      const archive = join(dir, 'jobs', `${job.name}.tgz`);
      const spec = await readJobArchive(archive, join(dir, 'job-contents', job.name), { expectedName: job.name });
      const blobstoreId = await director.blobstore.put(archive);
      return db
        .insertInto('templates')
        .values({
          release_id: releaseId,
          name: job.name,
          version: job.version,
          fingerprint: job.fingerprint,
          blobstore_id: blobstoreId,
          sha1: job.sha1,
          package_names_json: JSON.stringify(spec.packages ?? []),
          spec_json: JSON.stringify(spec),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    }));
    await task.checkpoint();
  }
  return rows;
}

/** The version row and its package/job links, in one transaction: a version is complete or absent. */
async function recordReleaseVersion(db: Kysely<Database>, releaseId: number, manifest: ReleaseManifest, packages: PackageRow[], jobs: TemplateRow[]): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const existing = await trx.selectFrom('release_versions').select('id').where('release_id', '=', releaseId).where('version', '=', manifest.version).executeTakeFirst();
    const versionId = existing?.id ?? (
      await trx
        .insertInto('release_versions')
        .values({
          release_id: releaseId,
          version: manifest.version,
          commit_hash: manifest.commit_hash,
          uncommitted_changes: manifest.uncommitted_changes ? 1 : 0,
          update_completed: 1,
        })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
    await trx.deleteFrom('packages_release_versions').where('release_version_id', '=', versionId).execute();
    await trx.deleteFrom('release_versions_templates').where('release_version_id', '=', versionId).execute();
    if (packages.length > 0) {
      await trx.insertInto('packages_release_versions').values(packages.map((p) => ({ package_id: p.id, release_version_id: versionId }))).execute();
    }
    if (jobs.length > 0) {
      await trx.insertInto('release_versions_templates').values(jobs.map((j) => ({ template_id: j.id, release_version_id: versionId }))).execute();
    }
  });
}
