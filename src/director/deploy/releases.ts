// Resolving what a manifest names (releases, jobs, packages, stemcells; "latest" versions) to DB rows,
// and fetching job archives from the blobstore for rendering.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Director } from '../context.js';
import type { JobManifest } from '../../release/types.js';
import type { ManifestRelease, ManifestStemcell } from '../../manifest/types.js';
import { readJobArchive } from '../../release/tarball.js';
import type { JobSource } from '../templates/render.js';
import type { VmStemcell } from './vm-creator.js';
import { compareVersions } from '../../common/versions.js';

type Db = Kysely<Database>;

export interface ResolvedJob {
  templateId: number;
  name: string;
  version: string;
  sha1: string;
  blobstoreId: string;
  release: { name: string; version: string };
  manifest: JobManifest;
}

export interface ResolvedPackage {
  id: number;
  name: string;
  version: string;
  fingerprint: string;
  blobstoreId: string | null;
  sha1: string | null;
  dependencies: string[];
}

export interface ResolvedRelease {
  name: string;
  version: string;
  versionId: number;
  jobs: Map<string, ResolvedJob>;
  packages: Map<string, ResolvedPackage>;
}

export interface ResolvedStemcell extends VmStemcell {
  id: number;
}

/** Orders versions like "1.2.10" > "1.2.9" and "2+dev.3" > "2+dev.2"; numeric segments compare as numbers. */

// Capstan's own stemcells are versioned `1.<content hash>`: two hashes have no order of their own, so
// between them the later upload (higher id) is the newer.
const CONTENT_HASH = /^(?=[0-9a-f]*[a-f])[0-9a-f]{8,}$/;

/** Newest first: by version, and by upload order where versions differ only in a content hash. */
export function newestFirst<T extends { id: number; version: string }>(rows: T[]): T[] {
  return [...rows].sort((a, b) => {
    const pa = a.version.split(/[.+-]/);
    const pb = b.version.split(/[.+-]/);
    const i = pa.findIndex((part, n) => part !== pb[n]);
    if (i >= 0 && CONTENT_HASH.test(pa[i]) && CONTENT_HASH.test(pb[i] ?? '')) return b.id - a.id;
    return compareVersions(b.version, a.version);
  });
}

function pickVersion<T extends { id: number; version: string }>(rows: T[], wanted: string): T | undefined {
  const sorted = newestFirst(rows);
  if (wanted === 'latest') return sorted[0];
  const prefix = wanted.match(/^(.*)\.latest$/)?.[1];
  if (prefix !== undefined) return sorted.find((r) => r.version === prefix || r.version.startsWith(prefix + '.'));
  return rows.find((r) => r.version === String(wanted));
}

export async function resolveRelease(db: Db, wanted: ManifestRelease): Promise<ResolvedRelease> {
  const release = await db.selectFrom('releases').selectAll().where('name', '=', wanted.name).executeTakeFirst();
  const versions = release ? await db.selectFrom('release_versions').selectAll().where('release_id', '=', release.id).execute() : [];
  const version = pickVersion(versions, String(wanted.version));
  if (!release || !version) throw new Error(`Release '${wanted.name}/${wanted.version}' doesn't exist`);

  const templates = await db
    .selectFrom('templates')
    .innerJoin('release_versions_templates', 'release_versions_templates.template_id', 'templates.id')
    .selectAll('templates')
    .where('release_versions_templates.release_version_id', '=', version.id)
    .execute();
  const packages = await db
    .selectFrom('packages')
    .innerJoin('packages_release_versions', 'packages_release_versions.package_id', 'packages.id')
    .selectAll('packages')
    .where('packages_release_versions.release_version_id', '=', version.id)
    .execute();
  const releaseRef = { name: release.name, version: version.version };
  return {
    name: release.name,
    version: version.version,
    versionId: version.id,
    jobs: new Map(templates.map((t) => [t.name, {
      templateId: t.id, name: t.name, version: t.version, sha1: t.sha1, blobstoreId: t.blobstore_id, release: releaseRef,
      manifest: normaliseJobManifest(JSON.parse(t.spec_json)),
    }])),
    packages: new Map(packages.map((p) => [p.name, {
      id: p.id, name: p.name, version: p.version, fingerprint: p.fingerprint, blobstoreId: p.blobstore_id, sha1: p.sha1,
      dependencies: JSON.parse(p.dependency_set_json) as string[],
    }])),
  };
}

function normaliseJobManifest(raw: Partial<JobManifest> & { name: string }): JobManifest {
  return { ...raw, templates: raw.templates ?? {}, packages: raw.packages ?? [], properties: raw.properties ?? {} };
}

export async function resolveStemcell(db: Db, wanted: ManifestStemcell, cpiName: string): Promise<ResolvedStemcell> {
  let query = db.selectFrom('stemcells').selectAll();
  query = wanted.os ? query.where('operating_system', '=', wanted.os) : query.where('name', '=', wanted.name ?? '');
  const all = await query.execute();
  const forCpi = all.filter((r) => r.cpi === cpiName || r.cpi === '');
  const rows = forCpi.length ? forCpi : all;
  const row = pickVersion(rows, String(wanted.version));
  if (!row) throw new Error(`Stemcell '${wanted.os ?? wanted.name}/${wanted.version}' doesn't exist`);
  return { id: row.id, name: row.name, version: row.version, operatingSystem: row.operating_system, cid: row.cid, apiVersion: row.api_version };
}

/** The job's archive extracted into the director's cache (one directory per job blob). */
export async function fetchJobSource(director: Director, job: ResolvedJob): Promise<JobSource> {
  const cacheRoot = join(director.config.base_dir, 'cache', 'jobs');
  const dir = join(cacheRoot, job.blobstoreId);
  if (!existsSync(join(dir, 'job.MF'))) {
    await mkdir(cacheRoot, { recursive: true });
    const staging = await mkdtemp(join(cacheRoot, '.fetch-'));
    try {
      const tgz = join(staging, 'job.tgz');
      await director.blobstore.get(job.blobstoreId, tgz);
      await readJobArchive(tgz, join(staging, 'job'), { expectedName: job.name });
      await rm(tgz);
      await rename(join(staging, 'job'), dir).catch((err: NodeJS.ErrnoException) => {
        if (!existsSync(join(dir, 'job.MF'))) throw err; // a concurrent fetch won the race
      });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }
  return { name: job.name, version: job.version, release: job.release, manifest: job.manifest, dir };
}
