// Persistent disks of instances (director-api.md §6.4 step 3, §6.5): creating, attaching and mounting
// them, migrating the data to a new disk when the size or the cloud properties change (BOSH replaces
// disks rather than resizing them), detaching them from VMs that go away, and orphaning the disks of
// deleted instances (kept until `delete-disk` or `clean-up --all`).
import type { Kysely, Selectable } from 'kysely';
import { CpiError, CpiErrorType, type CloudProperties, type Cpi } from '../../cpi/cpi.js';
import type { CloudConfig, InstanceGroup } from '../../manifest/types.js';
import type { Director } from '../context.js';
import { cpiRegistry, DEFAULT_CPI } from '../cpis.js';
import type { Database, OrphanDisksTable, PersistentDisksTable } from '../db/schema.js';

export type DiskRow = Selectable<PersistentDisksTable>;
export type OrphanDiskRow = Selectable<OrphanDisksTable>;

/** What the manifest asks for: `persistent_disk` (MB) or a cloud-config `disk_types` entry. */
export interface DesiredDisk {
  size: number;
  cloudProperties: CloudProperties;
}

/** The VM a disk is attached to. */
export interface DiskVm {
  cid: string;
  agentId: string;
  /** The VM's CPI name (vms.cpi); looked up by cid when absent. */
  cpi?: string | null;
}

/** Who owned a disk, for its orphan record. */
export interface DiskOwner {
  deployment: string;
  /** `<ig>/<uuid>` */
  instanceName: string;
  az: string | null;
}

export function desiredDisk(group: InstanceGroup, cloudConfig: CloudConfig): DesiredDisk | null {
  if (group.persistent_disk_type) {
    const type = (cloudConfig.disk_types ?? []).find((t) => t.name === group.persistent_disk_type);
    if (!type) throw new Error(`Instance group '${group.name}' references an unknown disk type '${group.persistent_disk_type}'`);
    return type.disk_size > 0 ? { size: type.disk_size, cloudProperties: type.cloud_properties ?? {} } : null;
  }
  return group.persistent_disk ? { size: group.persistent_disk, cloudProperties: {} } : null;
}

/** JSON with sorted keys: cloud properties compare by content, not key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const differs = (disk: DiskRow, desired: DesiredDisk) =>
  disk.size !== desired.size || canonical(JSON.parse(disk.cloud_properties_json)) !== canonical(desired.cloudProperties);

export async function activeDisk(db: Kysely<Database>, instanceId: number): Promise<DiskRow | undefined> {
  return db.selectFrom('persistent_disks').selectAll().where('instance_id', '=', instanceId).where('active', '=', 1).executeTakeFirst();
}

export async function instanceDisks(db: Kysely<Database>, instanceId: number): Promise<DiskRow[]> {
  return db.selectFrom('persistent_disks').selectAll().where('instance_id', '=', instanceId).orderBy('id').execute();
}

/** Whether a deploy must touch the instance's disk (create, replace or remove it). */
export async function diskNeedsUpdate(db: Kysely<Database>, instanceId: number, desired: DesiredDisk | null, recreateDisks: boolean): Promise<boolean> {
  const current = await activeDisk(db, instanceId);
  if (!current) return desired !== null;
  return desired === null || recreateDisks || differs(current, desired);
}

/** The CPI name of a VM: the one it was created by. */
async function vmCpiName(director: Director, vm: DiskVm): Promise<string> {
  if (vm.cpi !== undefined && vm.cpi !== null) return vm.cpi;
  const row = await director.db.selectFrom('vms').select('cpi').where('cid', '=', vm.cid).executeTakeFirst();
  return row?.cpi ?? DEFAULT_CPI;
}

/** The named CPI's disk method (a disk lives in its VM's CPI), or a clear error for a CPI without it. */
async function cpiMethod<K extends 'createDisk' | 'deleteDisk' | 'attachDisk' | 'detachDisk' | 'hasDisk' | 'setDiskMetadata'>(
  director: Director, name: K, cpiName: string,
): Promise<NonNullable<Cpi[K]>> {
  const cpi = await cpiRegistry(director).get(cpiName);
  const method = cpi[name];
  if (!method) throw new CpiError(CpiErrorType.NotImplemented, `The CPI does not support persistent disks (${name})`);
  return method.bind(cpi) as NonNullable<Cpi[K]>;
}

const TOLERANT_AGENT_TIMEOUT_MS = 10_000;

const ignoreUnknownMessage = (err: Error) => {
  if (!/unknown message/.test(err.message)) throw err;
};

const isCpiError = (err: unknown, ...types: string[]) => err instanceof CpiError && types.includes(err.type);

/**
 * attach_disk (idempotent for the disk's own VM), then the agent: a Docker VM restarts its agent to
 * attach a volume, so wait until it answers again; add_persistent_disk with the hint; mount_disk
 * (the agent mounts on store_migration_target when store already holds another disk).
 */
export async function attachAndMount(director: Director, vm: DiskVm, diskCid: string): Promise<void> {
  await attach(director, vm, diskCid);
  await director.agents.forAgent(vm.agentId).call('mount_disk', [diskCid]);
}

async function attach(director: Director, vm: DiskVm, diskCid: string): Promise<void> {
  const hint = await (await cpiMethod(director, 'attachDisk', await vmCpiName(director, vm)))(vm.cid, diskCid);
  await director.agents.waitUntilReady(vm.agentId, director.config.agent_wait_timeout_seconds * 1000);
  if (hint !== null) await director.agents.forAgent(vm.agentId).call('add_persistent_disk', [diskCid, hint]).catch(ignoreUnknownMessage);
}

/**
 * unmount_disk and remove_persistent_disk on the agent (tolerated when the agent is gone and
 * `tolerateAgent`), then detach_disk (a VM or disk already gone, or a disk not attached, is fine).
 */
export async function unmountAndDetach(director: Director, vm: DiskVm, diskCid: string, tolerateAgent = false): Promise<void> {
  const agent = director.agents.forAgent(vm.agentId);
  // an agent that may be gone (recreate of an unresponsive VM) gets a short answer timeout
  const options = tolerateAgent ? { timeoutMs: TOLERANT_AGENT_TIMEOUT_MS } : {};
  try {
    await agent.call('unmount_disk', [diskCid], options);
    await agent.call('remove_persistent_disk', [diskCid], options).catch(ignoreUnknownMessage);
  } catch (err) {
    if (!tolerateAgent) throw err;
    director.log.warn({ err, disk_cid: diskCid }, 'could not unmount the disk (agent unreachable)');
  }
  try {
    await (await cpiMethod(director, 'detachDisk', await vmCpiName(director, vm)))(vm.cid, diskCid);
  } catch (err) {
    if (!isCpiError(err, CpiErrorType.DiskNotAttached, CpiErrorType.VMNotFound, CpiErrorType.DiskNotFound)) throw err;
  }
}

/** create_disk next to the VM; the row starts inactive, so a failure midway leaves an inactive disk cck reports. */
async function createDisk(director: Director, instanceId: number, vm: DiskVm, desired: DesiredDisk): Promise<DiskRow> {
  const cpiName = await vmCpiName(director, vm);
  const cid = await (await cpiMethod(director, 'createDisk', cpiName))(desired.size, desired.cloudProperties, vm.cid);
  return director.db
    .insertInto('persistent_disks')
    .values({ instance_id: instanceId, disk_cid: cid, size: desired.size, active: 0, cloud_properties_json: JSON.stringify(desired.cloudProperties), name: '', cpi: cpiName })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Moves the disk to orphan_disks (the cloud disk is kept). */
export async function orphanDisk(director: Director, disk: DiskRow, owner: DiskOwner): Promise<void> {
  await director.db.transaction().execute(async (trx) => {
    await trx
      .insertInto('orphan_disks')
      .values({
        disk_cid: disk.disk_cid, size: disk.size, availability_zone: owner.az, deployment_name: owner.deployment, instance_name: owner.instanceName,
        cloud_properties_json: disk.cloud_properties_json, cpi: disk.cpi, created_at: new Date().toISOString(),
      })
      .execute();
    await trx.deleteFrom('persistent_disks').where('id', '=', disk.id).execute();
  });
}

export interface DiskUpdateOptions {
  /** `--recreate-persistent-disks`: migrate to a new disk even when nothing changed. */
  recreate?: boolean;
}

/**
 * Makes the instance's disk what the manifest wants, on its current VM: re-attaches the active disk
 * to a new VM, creates a first disk, migrates the data to a new disk when size or cloud properties
 * changed (new disk mounted next to the old one, `migrate_disk`, old one unmounted, detached and
 * orphaned), or orphans the disk when the manifest no longer asks for one.
 */
export async function updatePersistentDisk(director: Director, instanceId: number, owner: DiskOwner, vm: DiskVm, desired: DesiredDisk | null, options: DiskUpdateOptions = {}): Promise<void> {
  const current = await activeDisk(director.db, instanceId);
  if (!desired) {
    if (current) {
      await unmountAndDetach(director, vm, current.disk_cid);
      await orphanDisk(director, current, owner);
    }
    return;
  }
  if (current) await ensureMounted(director, vm, current.disk_cid);
  if (current && !options.recreate && !differs(current, desired)) return;
  const next = await createDisk(director, instanceId, vm, desired);
  const agent = director.agents.forAgent(vm.agentId);
  await attach(director, vm, next.disk_cid);
  // a VM that restarted to attach the new disk (Docker) has the old one unmounted: store must hold it
  // before the new disk is mounted next to it as the migration target
  if (current) await agent.call('mount_disk', [current.disk_cid]);
  await agent.call('mount_disk', [next.disk_cid]);
  if (current) {
    await agent.call('migrate_disk', [current.disk_cid, next.disk_cid]);
    await unmountAndDetach(director, vm, current.disk_cid);
    await orphanDisk(director, current, owner);
    // detaching may restart the VM's agent (Docker) and lose the mount: mount_disk is a no-op otherwise
    await director.agents.waitUntilReady(vm.agentId, director.config.agent_wait_timeout_seconds * 1000);
    await agent.call('mount_disk', [next.disk_cid]);
  }
  await director.db.updateTable('persistent_disks').set({ active: 1 }).where('id', '=', next.id).execute();
  await setDiskMetadata(director, next, owner);
}

/** A disk the agent does not list as mounted (the VM was recreated) is attached and mounted again. */
async function ensureMounted(director: Director, vm: DiskVm, diskCid: string): Promise<void> {
  const mounted = await director.agents.forAgent(vm.agentId).call<string[]>('list_disk').catch(() => [] as string[]);
  if (!Array.isArray(mounted) || !mounted.includes(diskCid)) await attachAndMount(director, vm, diskCid);
}

async function setDiskMetadata(director: Director, disk: DiskRow, owner: DiskOwner): Promise<void> {
  const [group, id] = owner.instanceName.split('/');
  const metadata = { director: director.config.name, deployment: owner.deployment, instance_id: id, instance_group: group, attached_at: new Date().toISOString() };
  try {
    await (await cpiMethod(director, 'setDiskMetadata', disk.cpi))(disk.disk_cid, metadata);
  } catch (err) {
    director.log.warn({ err, disk_cid: disk.disk_cid }, 'could not set disk metadata');
  }
}

/** Attaches and mounts the instance's active disk on a VM just created for it (recreate, start after stop --hard). */
export async function attachInstanceDisk(director: Director, instanceId: number, vm: DiskVm): Promise<void> {
  const disk = await activeDisk(director.db, instanceId);
  if (disk) await attachAndMount(director, vm, disk.disk_cid);
}

/** Before a VM is deleted (recreate, stop --hard, instance deletion): its disks are unmounted and detached. */
export async function detachInstanceDisks(director: Director, instanceId: number, vm: DiskVm, tolerateAgent = false): Promise<void> {
  for (const disk of await instanceDisks(director.db, instanceId)) await unmountAndDetach(director, vm, disk.disk_cid, tolerateAgent);
}

/** Every disk of a deleted instance becomes an orphan. */
export async function orphanInstanceDisks(director: Director, instance: { id: number; deployment_id: number; job: string; uuid: string; availability_zone: string | null }): Promise<void> {
  const disks = await instanceDisks(director.db, instance.id);
  if (disks.length === 0) return;
  const deployment = await director.db.selectFrom('deployments').select('name').where('id', '=', instance.deployment_id).executeTakeFirst();
  const owner = { deployment: deployment?.name ?? '', instanceName: `${instance.job}/${instance.uuid}`, az: instance.availability_zone };
  for (const disk of disks) await orphanDisk(director, disk, owner);
}

/** An orphaned disk as GET /disks and the clean-up dry run show it (director-api.md §2.10). */
export function orphanDiskView(row: OrphanDiskRow) {
  return {
    disk_cid: row.disk_cid,
    size: row.size ?? 0,
    az: row.availability_zone,
    deployment_name: row.deployment_name,
    instance_name: row.instance_name,
    cloud_properties: JSON.parse(row.cloud_properties_json) as CloudProperties,
    orphaned_at: boshTime(row.created_at),
  };
}

/** `YYYY-MM-DD HH:MM:SS +0000`, the time format BOSH uses for orphaned_at. */
function boshTime(iso: string): string {
  return new Date(iso).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' +0000');
}

export async function orphanDisks(db: Kysely<Database>): Promise<OrphanDiskRow[]> {
  return db.selectFrom('orphan_disks').selectAll().orderBy('id', 'desc').execute();
}

/** Deletes an orphaned disk in the cloud (gone already is fine) and forgets it. */
export async function deleteOrphanDisk(director: Director, diskCid: string): Promise<void> {
  const orphan = await director.db.selectFrom('orphan_disks').select('cpi').where('disk_cid', '=', diskCid).executeTakeFirst();
  if (!orphan) {
    director.log.info({ disk_cid: diskCid }, 'orphaned disk not found');
    return;
  }
  try {
    await (await cpiMethod(director, 'deleteDisk', orphan.cpi))(diskCid);
  } catch (err) {
    if (!isCpiError(err, CpiErrorType.DiskNotFound)) throw err;
  }
  await director.db.deleteFrom('orphan_disks').where('disk_cid', '=', diskCid).execute();
}

/** Deletes a disk an instance owns (cck delete_disk): detached from its VM first when there is one. */
export async function deleteInstanceDisk(director: Director, disk: DiskRow, vm: DiskVm | null): Promise<void> {
  if (vm) await unmountAndDetach(director, vm, disk.disk_cid, true);
  try {
    await (await cpiMethod(director, 'deleteDisk', disk.cpi))(disk.disk_cid);
  } catch (err) {
    if (!isCpiError(err, CpiErrorType.DiskNotFound)) throw err;
  }
  await director.db.deleteFrom('persistent_disks').where('id', '=', disk.id).execute();
}

/** has_disk in the disk's CPI; a CPI without it is taken to still have the disk. */
export async function diskExists(director: Director, disk: DiskRow): Promise<boolean> {
  const cpi = await cpiRegistry(director).get(disk.cpi);
  return cpi.hasDisk ? cpi.hasDisk(disk.disk_cid) : true;
}
