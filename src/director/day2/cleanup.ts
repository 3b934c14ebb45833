// `bosh clean-up` (director-api.md §2.10): release versions and stemcells no deployment uses,
// keeping the two newest of each unless remove_all. Capstan has no orphaned disks, VMs, exported
// releases or DNS blobs yet, so those lists are empty.
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { compareVersions } from '../../common/versions.js';

const KEEP_NEWEST = 2;

export interface CleanupPlan {
  releases: Array<{ name: string; versions: string[] }>;
  stemcells: Array<{ name: string; operating_system: string; version: string; cid: string; cpi: string; deployments: []; api_version: number | null; id: string }>;
  compiled_packages: [];
  orphaned_disks: [];
  orphaned_vms: [];
  exported_releases: [];
  dns_blobs: [];
}

/** Unused items past the newest ones kept (all unused ones with removeAll). */
function pick<T>(items: T[], version: (t: T) => string, removeAll: boolean): T[] {
  const newestFirst = [...items].sort((a, b) => compareVersions(version(b), version(a)));
  return removeAll ? newestFirst : newestFirst.slice(KEEP_NEWEST);
}

export async function cleanupPlan(db: Kysely<Database>, removeAll: boolean): Promise<CleanupPlan> {
  const usedVersions = new Set((await db.selectFrom('deployments_release_versions').select('release_version_id').execute()).map((r) => r.release_version_id));
  const versions = await db
    .selectFrom('release_versions')
    .innerJoin('releases', 'releases.id', 'release_versions.release_id')
    .select(['releases.name', 'release_versions.id', 'release_versions.version'])
    .orderBy('releases.name')
    .execute();
  const releases: CleanupPlan['releases'] = [];
  for (const name of [...new Set(versions.map((v) => v.name))]) {
    const unused = versions.filter((v) => v.name === name && !usedVersions.has(v.id));
    const doomed = pick(unused, (v) => v.version, removeAll).map((v) => v.version);
    if (doomed.length) releases.push({ name, versions: doomed });
  }

  const usedStemcells = new Set((await db.selectFrom('deployments_stemcells').select('stemcell_id').execute()).map((r) => r.stemcell_id));
  const stemcellRows = (await db.selectFrom('stemcells').selectAll().orderBy('name').execute()).filter((s) => !usedStemcells.has(s.id));
  const stemcells: CleanupPlan['stemcells'] = [];
  for (const name of [...new Set(stemcellRows.map((s) => s.name))]) {
    for (const s of pick(stemcellRows.filter((r) => r.name === name), (r) => r.version, removeAll)) {
      stemcells.push({ name: s.name, operating_system: s.operating_system, version: s.version, cid: s.cid, cpi: s.cpi, deployments: [], api_version: s.api_version, id: String(s.id) });
    }
  }
  return { releases, stemcells, compiled_packages: [], orphaned_disks: [], orphaned_vms: [], exported_releases: [], dns_blobs: [] };
}
