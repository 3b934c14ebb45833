// delete_vm (DELETE /vms/<cid>): the VM goes from the cloud and from the DB; its instance stays,
// without a VM, until the next deploy or cloud check recreates it.
import type { TaskJob } from '../../context.js';
import { deleteVm } from '../../deploy/vm-creator.js';
import { cpiRegistry } from '../../cpis.js';
import { recordEvent } from '../../day2/events.js';

export interface DeleteVmPayload {
  vm_cid: string;
}

export const deleteVmJob: TaskJob = async (director, task, payload: DeleteVmPayload) => {
  const cid = payload.vm_cid;
  const vm = await director.db.selectFrom('vms').selectAll().where('cid', '=', cid).executeTakeFirst();
  const instance = vm ? await director.db.selectFrom('instances').selectAll().where('id', '=', vm.instance_id).executeTakeFirst() : undefined;
  const deployment = instance ? await director.db.selectFrom('deployments').select('name').where('id', '=', instance.deployment_id).executeTakeFirst() : undefined;
  await task.events.beginStage('Delete VM', 1).track(cid, async () => {
    if (vm) await deleteVm(director, vm);
    else {
      // a VM the director has no record of: only its own (default) CPI can be asked, as in BOSH
      const cpi = cpiRegistry(director).defaultCpi;
      if (await cpi.hasVm(cid).catch(() => true)) await cpi.deleteVm(cid);
    }
  });
  await recordEvent(director.db, {
    user: task.username, action: 'delete', objectType: 'vm', objectName: cid, task: task.taskId,
    deployment: deployment?.name ?? null, instance: instance ? `${instance.job}/${instance.uuid}` : null,
  });
  return `vm ${cid} deleted`;
};
