// `bosh clean-up` (director-api.md §2.10): release versions and stemcells no deployment uses,
// keeping the two newest of each unless remove_all, and orphaned disks with remove_all. Capstan has no
// orphaned VMs, exported releases or DNS blobs yet, so those lists are empty.
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { compareVersions } from '../../common/versions.js';
import { orphanDisks, orphanDiskView } from '../deploy/disk-manager.js';

const KEEP_NEWEST = 2;

export interface CleanupPlan {
  releases: Array<{ name: string; versions: string[] }>;
  stemcells: Array<{ name: string; operating_system: string; version: string; cid: string; cpi: string; deployments: []; api_version: number | null; id: string }>;
  compiled_packages: [];
  orphaned_disks: Array<ReturnType<typeof orphanDiskView>>;
  orphaned_vms: [];
  exported_releases: [];
  dns_blobs: [];
}

/** Unused items past the newest ones kept (all unused ones with removeAll). */
function pick<T>(items: T[], version: (t: T) => string, removeAll: boolean): T[] {
  const newestFirst = [...items].sort((a, b) => compareVersions(version(b), version(a)));
  return removeAll ? newestFirst : newestFirst.slice(KEEP_NEWEST);
}

/** Orphaned disks go only with remove_all, and not with keep_orphaned_disks (as in BOSH). */
export async function cleanupPlan(db: Kysely<Database>, removeAll: boolean, keepOrphanedDisks = false): Promise<CleanupPlan> {
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
  // a stemcell has one row per CPI it was uploaded to (cpi-config); it is in use when any of them is
  const allStemcells = await db.selectFrom('stemcells').selectAll().orderBy('name').orderBy('cpi').execute();
  const stemcellKey = (s: { name: string; version: string }) => `${s.name}/${s.version}`;
  const inUse = new Set(allStemcells.filter((s) => usedStemcells.has(s.id)).map(stemcellKey));
  const stemcellRows = allStemcells.filter((s) => !inUse.has(stemcellKey(s)));
  const stemcells: CleanupPlan['stemcells'] = [];
  for (const name of [...new Set(stemcellRows.map((s) => s.name))]) {
    const doomed = pick([...new Set(stemcellRows.filter((r) => r.name === name).map((r) => r.version))], (v) => v, removeAll);
    for (const s of stemcellRows.filter((r) => r.name === name && doomed.includes(r.version))) {
      stemcells.push({ name: s.name, operating_system: s.operating_system, version: s.version, cid: s.cid, cpi: s.cpi, deployments: [], api_version: s.api_version, id: String(s.id) });
    }
  }
  const disks = removeAll && !keepOrphanedDisks ? (await orphanDisks(db)).map(orphanDiskView) : [];
  return { releases, stemcells, compiled_packages: [], orphaned_disks: disks, orphaned_vms: [], exported_releases: [], dns_blobs: [] };
}
