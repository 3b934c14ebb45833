// Cloud check of persistent disks (director-api.md §9): inactive disks, disks gone from the cloud and
// disks the agent does not have mounted, with BOSH's descriptions, resolutions and their effects.
import { CpiError, CpiErrorType } from '../../cpi/cpi.js';
import type { Director, EventStep } from '../context.js';
import { cpiRegistry } from '../cpis.js';
import { inParallel } from '../deploy/instance-updater.js';
import {
  activeDisk, attachAndMount, deleteInstanceDisk, diskExists, instanceDisks, unmountAndDetach, type DiskRow,
} from '../deploy/disk-manager.js';
import { activeVm, type InstanceRow, type VmRow } from './instances.js';

export type DiskProblemType = 'missing_disk' | 'inactive_disk' | 'mount_info_mismatch';

export interface DiskProblemData {
  disk_cid: string;
  size: number;
  instance_id: string; // uuid
  instance_group: string;
  index: number;
  vm_cid: string | null;
  agent_id: string | null;
  /** mount_info_mismatch: the VMs the agent says the disk is mounted on. */
  owner_vms?: string[];
}

export interface FoundDiskProblem {
  type: DiskProblemType;
  /** persistent_disks.id */
  resourceId: number;
  data: DiskProblemData;
}

const SCAN_TIMEOUT_MS = 10_000;
const MAX_SCAN_THREADS = 16;

export const DISK_RESOLUTIONS: Record<DiskProblemType, Array<{ name: string; plan: string }>> = {
  missing_disk: [
    { name: 'ignore', plan: 'Skip for now' },
    { name: 'delete_disk_reference', plan: 'Delete disk reference (DANGEROUS!)' },
  ],
  inactive_disk: [
    { name: 'ignore', plan: 'Skip for now' },
    { name: 'delete_disk', plan: 'Delete disk' },
    { name: 'activate_disk', plan: 'Activate disk' },
  ],
  mount_info_mismatch: [
    { name: 'ignore', plan: 'Ignore' },
    { name: 'reattach_disk', plan: 'Reattach disk to instance' },
    { name: 'reattach_disk_and_reboot', plan: 'Reattach disk and reboot instance' },
  ],
};

export const DISK_AUTO_RESOLUTION: Record<DiskProblemType, string> = { missing_disk: 'ignore', inactive_disk: 'ignore', mount_info_mismatch: 'ignore' };

export const isDiskProblem = (type: string): type is DiskProblemType => type in DISK_RESOLUTIONS;

export function diskProblemDescription(type: DiskProblemType, data: DiskProblemData): string {
  switch (type) {
    case 'missing_disk':
      return `Disk '${data.disk_cid}' (${data.instance_group}/${data.instance_id}, ${data.size}M) is missing`;
    case 'inactive_disk':
      return `Disk '${data.disk_cid}' (${data.size}M) for instance '${data.instance_group}/${data.instance_id} (${data.index})' is inactive`;
    case 'mount_info_mismatch': {
      const owners = data.owner_vms ?? [];
      return [
        'Inconsistent mount information:',
        `Record shows that disk '${data.disk_cid}' should be mounted on ${data.vm_cid}.`,
        'However it is currently :',
        owners.length === 0 ? '\tNot mounted in any VM' : `\tMounted on: ${owners.join(', ')}`,
      ].join('\n');
    }
  }
}

/**
 * The disks of the instances, checked in order: an inactive row, a disk the CPI no longer has, an
 * active disk the instance's agent does not list as mounted (agents that do not answer are skipped:
 * the VM scan reports them). Returns the problems and the summary step text.
 */
export async function scanDisks(director: Director, rows: InstanceRow[], silentAgents: Set<string>): Promise<{ total: number; found: FoundDiskProblem[]; summary: string }> {
  const disks: Array<{ row: InstanceRow; disk: DiskRow; vm: VmRow | undefined }> = [];
  for (const row of rows) {
    const vm = await activeVm(director.db, row.id);
    for (const disk of await instanceDisks(director.db, row.id)) disks.push({ row, disk, vm });
  }
  const found: FoundDiskProblem[] = [];
  await inParallel(disks, MAX_SCAN_THREADS, async ({ row, disk, vm }) => {
    const data: DiskProblemData = {
      disk_cid: disk.disk_cid, size: disk.size, instance_id: row.uuid, instance_group: row.job, index: row.index,
      vm_cid: vm?.cid ?? null, agent_id: vm?.agent_id ?? null,
    };
    const type = await diskProblem(director, disk, vm, silentAgents, data);
    if (type) found.push({ type, resourceId: disk.id, data });
  });
  const count = (t: DiskProblemType) => found.filter((p) => p.type === t).length;
  const summary = `${disks.length - found.length} OK, ${count('missing_disk')} missing, ${count('inactive_disk')} inactive, ${count('mount_info_mismatch')} mount-info mismatch`;
  return { total: disks.length, found, summary };
}

async function diskProblem(director: Director, disk: DiskRow, vm: VmRow | undefined, silentAgents: Set<string>, data: DiskProblemData): Promise<DiskProblemType | null> {
  if (disk.active === 0) return 'inactive_disk';
  if (!(await diskExists(director, disk).catch(() => true))) return 'missing_disk';
  if (!vm || silentAgents.has(vm.agent_id)) return null;
  const mounted = await director.agents.forAgent(vm.agent_id).call<string[]>('list_disk', [], { timeoutMs: SCAN_TIMEOUT_MS }).catch(() => null);
  if (mounted === null || (Array.isArray(mounted) && mounted.includes(disk.disk_cid))) return null;
  data.owner_vms = [];
  return 'mount_info_mismatch';
}

/** Applies a disk problem's resolution (the problem's resource is the persistent_disks row). */
export async function resolveDiskProblem(director: Director, diskId: number, data: DiskProblemData, name: string, step: EventStep): Promise<void> {
  if (name === 'ignore') return;
  const disk = await director.db.selectFrom('persistent_disks').selectAll().where('id', '=', diskId).executeTakeFirst();
  if (!disk) throw new Error(`Disk '${data.disk_cid}' is no longer known to the director`);
  const vmRow = await activeVm(director.db, disk.instance_id);
  const vm = vmRow ? { cid: vmRow.cid, agentId: vmRow.agent_id, cpi: vmRow.cpi } : null;
  switch (name) {
    case 'delete_disk_reference':
      if (vm) await unmountAndDetach(director, vm, disk.disk_cid, true);
      await director.db.deleteFrom('persistent_disks').where('id', '=', disk.id).execute();
      return;
    case 'delete_disk':
      step.status('deleting disk');
      return deleteInstanceDisk(director, disk, vm);
    case 'activate_disk': {
      const active = await activeDisk(director.db, disk.instance_id);
      if (active && active.id !== disk.id) throw new Error(`Instance '${data.instance_group}/${data.instance_id}' already has an active disk`);
      await director.db.updateTable('persistent_disks').set({ active: 1 }).where('id', '=', disk.id).execute();
      return;
    }
    case 'reattach_disk':
    case 'reattach_disk_and_reboot':
      if (!vm) throw new Error(`Instance '${data.instance_group}/${data.instance_id}' has no VM to attach disk '${disk.disk_cid}' to`);
      if (name === 'reattach_disk_and_reboot') await reboot(director, vm);
      return attachAndMount(director, vm, disk.disk_cid);
    default:
      throw new Error(`Unknown resolution '${name}'`);
  }
}

/** reboot_vm, waiting for the agent; a CPI that cannot reboot (the dummy CPI) only gets the reattach. */
async function reboot(director: Director, vm: { cid: string; agentId: string; cpi: string }): Promise<void> {
  try {
    const cpi = await cpiRegistry(director).get(vm.cpi);
    if (!cpi.rebootVm) return;
    await cpi.rebootVm(vm.cid);
    await director.agents.waitUntilReady(vm.agentId, director.config.agent_wait_timeout_seconds * 1000);
  } catch (err) {
    if (!(err instanceof CpiError && err.type === CpiErrorType.NotImplemented)) throw err;
  }
}
