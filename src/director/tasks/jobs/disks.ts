// Disk tasks (director-api.md §2.10, §4.1): delete_orphan_disks (`delete-disk`), orphan_disk
// (DELETE /disks/<cid>?orphan=true) and attach_disk (`attach-disk`: an orphaned or unknown disk becomes
// the active disk of a stopped instance; its previous disk is orphaned).
import { CapstanError } from '../../../common/errors.js';
import type { TaskJob } from '../../context.js';
import {
  activeDisk, attachAndMount, deleteOrphanDisk, orphanDisk, unmountAndDetach, type DiskRow,
} from '../../deploy/disk-manager.js';
import { activeVm, findInstances } from '../../day2/instances.js';

export interface DeleteOrphanDisksPayload {
  orphan_disk_cids: string[];
}

export interface OrphanDiskPayload {
  disk_cid: string;
}

export interface AttachDiskPayload {
  deployment_name: string;
  job: string;
  instance_id: string;
  disk_cid: string;
  /** `copy`: the new disk gets the previous disk's cloud properties. */
  disk_properties: string | null;
}

export const deleteOrphanDisks: TaskJob = async (director, task, payload: DeleteOrphanDisksPayload) => {
  const stage = task.events.beginStage('Deleting orphaned disks', payload.orphan_disk_cids.length);
  for (const cid of payload.orphan_disk_cids) {
    await task.checkpoint();
    await stage.track(`Deleting orphaned disk ${cid}`, () => deleteOrphanDisk(director, cid));
  }
  return `orphaned disk(s) ${payload.orphan_disk_cids.join(', ')} deleted`;
};

export const orphanDiskJob: TaskJob = async (director, task, payload: OrphanDiskPayload) => {
  await task.events.beginStage('Orphan disk', 1).track(payload.disk_cid, async () => {
    const disk = await director.db.selectFrom('persistent_disks').selectAll().where('disk_cid', '=', payload.disk_cid).executeTakeFirst();
    if (!disk) {
      task.debug.info(`disk ${payload.disk_cid} does not exist`);
      return;
    }
    await orphanOwnedDisk(director, disk);
  });
  return `disk ${payload.disk_cid} orphaned`;
};

/** Unmounts and detaches the disk from its instance's VM (if any), then orphans it. */
async function orphanOwnedDisk(director: Parameters<TaskJob>[0], disk: DiskRow): Promise<void> {
  const instance = await director.db.selectFrom('instances').selectAll().where('id', '=', disk.instance_id).executeTakeFirstOrThrow();
  const deployment = await director.db.selectFrom('deployments').select('name').where('id', '=', instance.deployment_id).executeTakeFirstOrThrow();
  const vm = await activeVm(director.db, instance.id);
  if (vm) await unmountAndDetach(director, { cid: vm.cid, agentId: vm.agent_id }, disk.disk_cid, true);
  await orphanDisk(director, disk, { deployment: deployment.name, instanceName: `${instance.job}/${instance.uuid}`, az: instance.availability_zone });
}

export const attachDisk: TaskJob = async (director, task, payload: AttachDiskPayload) => {
  const [instance] = await findInstances(director.db, payload.deployment_name, payload.job, payload.instance_id);
  const label = `${instance.job}/${instance.uuid}`;
  if (instance.ignore === 1) throw new CapstanError(`Instance '${label}' in deployment '${payload.deployment_name}' is ignored and cannot be changed`, 140021, 400);
  const vm = await activeVm(director.db, instance.id);
  if (instance.state !== 'detached' && !(instance.state === 'stopped' && vm)) {
    throw new CapstanError(`Instance '${label}' in deployment '${payload.deployment_name}' must be in 'bosh stopped' state`, 140021, 400);
  }
  const owned = await director.db.selectFrom('persistent_disks').select('instance_id').where('disk_cid', '=', payload.disk_cid).executeTakeFirst();
  if (owned) throw new CapstanError(`Disk '${payload.disk_cid}' is already attached to an instance`, 140021, 400);

  await task.events.beginStage('Attaching disk', 1).track(label, async () => {
    const previous = await activeDisk(director.db, instance.id);
    const orphan = await director.db.selectFrom('orphan_disks').selectAll().where('disk_cid', '=', payload.disk_cid).executeTakeFirst();
    if (previous) await orphanOwnedDisk(director, previous);
    const cloudProperties = payload.disk_properties === 'copy' && previous ? previous.cloud_properties_json : orphan?.cloud_properties_json ?? '{}';
    await director.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('orphan_disks').where('disk_cid', '=', payload.disk_cid).execute();
      await trx.insertInto('persistent_disks').values({
        instance_id: instance.id, disk_cid: payload.disk_cid, size: orphan?.size ?? previous?.size ?? 0, active: 1,
        cloud_properties_json: cloudProperties, name: '', cpi: orphan?.cpi ?? vm?.cpi ?? '',
      }).execute();
    });
    // a soft-stopped instance keeps its VM: the disk is mounted now; a detached one gets it on start
    if (vm) await attachAndMount(director, { cid: vm.cid, agentId: vm.agent_id }, payload.disk_cid);
  });
  return `attached disk '${payload.disk_cid}' to '${label}' in deployment '${payload.deployment_name}'`;
};

export const diskJobs: Record<string, TaskJob> = {
  delete_orphan_disks: deleteOrphanDisks,
  orphan_disk: orphanDiskJob,
  attach_disk: attachDisk,
};
