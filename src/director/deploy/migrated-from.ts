// Renaming instance groups (`migrated_from: [{name, az}]`): before planning, the instances of the old
// groups become instances of the new one, keeping uuid, VM, IPs and disks (BOSH's job migrator).
// Only the group name and, where it collides, the index change; the update then restarts them.
import type { Kysely } from 'kysely';
import { CapstanError } from '../../common/errors.js';
import type { Logger } from '../../common/logging.js';
import type { DeploymentManifest, InstanceGroup } from '../../manifest/types.js';
import type { Database } from '../db/schema.js';

/** DeploymentInvalidMigratedFromJob */
const invalidMigration = (message: string) => new CapstanError(message, 190018, 400);

type InstanceRow = { id: number; job: string; index: number; uuid: string; availability_zone: string | null };

interface Migration {
  row: InstanceRow;
  to: InstanceGroup;
  az: string | null;
}

/**
 * Validates the manifest's migrated_from entries against the deployment's instances and, unless
 * `dryRun`, moves the instances to their new groups.
 */
export async function migrateInstanceGroups(db: Kysely<Database>, manifest: DeploymentManifest, log: Logger, dryRun = false): Promise<void> {
  if (!manifest.instance_groups.some((g) => g.migrated_from?.length)) return;
  const deployment = await db.selectFrom('deployments').select('id').where('name', '=', manifest.name).executeTakeFirst();
  const rows: InstanceRow[] = deployment
    ? await db.selectFrom('instances').select(['id', 'job', 'index', 'uuid', 'availability_zone']).where('deployment_id', '=', deployment.id).where('compilation', '=', 0).orderBy('index').execute()
    : [];
  const migrations = manifest.instance_groups.flatMap((group) => groupMigrations(manifest, group, rows));
  if (dryRun || migrations.length === 0) return;
  await db.transaction().execute(async (trx) => {
    for (const group of manifest.instance_groups) {
      const moving = migrations.filter((m) => m.to === group);
      const taken = new Set(rows.filter((r) => r.job === group.name).map((r) => r.index));
      for (const { row, az } of moving) {
        let index = 0;
        while (taken.has(index)) index++;
        taken.add(index);
        log.debug(`Migrating instance group '${row.job}/${row.uuid} (${row.index})' to '${group.name}/${row.uuid} (${index})'`);
        await trx.updateTable('instances').set({ job: group.name, index, availability_zone: az }).where('id', '=', row.id).execute();
      }
    }
  });
}

/** The instances `group` takes over, in migrated_from order; throws BOSH's errors for invalid entries. */
function groupMigrations(manifest: DeploymentManifest, group: InstanceGroup, rows: InstanceRow[]): Migration[] {
  const result: Migration[] = [];
  for (const from of group.migrated_from ?? []) {
    if (from.name === group.name) continue; // migrating from itself: its own instances anyway
    const failed = `Failed to migrate instance group '${from.name}' to '${group.name}'`;
    if (manifest.instance_groups.some((g) => g.name === from.name)) {
      throw invalidMigration(`${failed}. A deployment can not migrate an instance group and also specify it. Please remove instance group '${from.name}'.`);
    }
    if (manifest.instance_groups.some((g) => g !== group && g.migrated_from?.some((f) => f.name === from.name))) {
      throw invalidMigration(`${failed}. An instance group may be migrated to only one instance group.`);
    }
    for (const row of rows.filter((r) => r.job === from.name)) {
      if (from.az !== undefined && row.availability_zone !== null && row.availability_zone !== from.az) {
        throw invalidMigration(`${failed}, '${from.name}' belongs to availability zone '${row.availability_zone}' and manifest specifies '${from.az}'`);
      }
      if (row.availability_zone === null && from.az === undefined && (group.azs ?? []).length > 0) {
        throw invalidMigration(`${failed}, availability zone of '${from.name}' is not specified`);
      }
      result.push({ row, to: group, az: row.availability_zone ?? from.az ?? null });
    }
  }
  return result;
}
