// `vms` and `instances` tables from the director's format=full result lines (director-api §3.2).
import type { Table } from './table.js';

export interface VmInfo {
  vm_cid: string | null;
  active: boolean | null;
  ips: string[];
  agent_id: string | null;
  job_name: string;
  index: number | null;
  id: string;
  az: string | null;
  job_state: string | null;
  vm_type: string | null;
  processes?: Array<{ name: string; state: string }>;
}

/** One JSON object per line; blank lines ignored. */
export function parseVmInfoLines(result: string): VmInfo[] {
  return result
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as VmInfo);
}

const instanceName = (vm: VmInfo) => `${vm.job_name}/${vm.id}`;
const byInstance = (a: VmInfo, b: VmInfo) => (instanceName(a) < instanceName(b) ? -1 : instanceName(a) > instanceName(b) ? 1 : 0);

export function vmsTable(deployment: string, vms: VmInfo[]): Table {
  return {
    title: `Deployment '${deployment}'`,
    content: 'vms',
    header: ['Instance', 'Process State', 'AZ', 'IPs', 'VM CID', 'VM Type', 'Active'],
    rows: [...vms]
      .sort(byInstance)
      .map((vm) => [instanceName(vm), vm.job_state ?? '', vm.az ?? '', vm.ips ?? [], vm.vm_cid ?? '', vm.vm_type ?? '', String(vm.active ?? false)]),
  };
}

export function instancesTable(deployment: string, instances: VmInfo[], withProcesses = false): Table {
  const sorted = [...instances].sort(byInstance);
  if (!withProcesses) {
    return {
      title: `Deployment '${deployment}'`,
      content: 'instances',
      header: ['Instance', 'Process State', 'AZ', 'IPs'],
      rows: sorted.map((i) => [instanceName(i), i.job_state ?? '', i.az ?? '', i.ips ?? []]),
    };
  }
  // --ps: the instance row, then one row per process with the instance column shown as '~'
  const rows: string[][] = [];
  for (const i of sorted) {
    rows.push([instanceName(i), '', i.job_state ?? '', i.az ?? '', (i.ips ?? []).join('\n')]);
    for (const p of i.processes ?? []) rows.push(['~', p.name, p.state, '', '']);
  }
  return {
    title: `Deployment '${deployment}'`,
    content: 'instances',
    header: ['Instance', 'Process', 'Process State', 'AZ', 'IPs'],
    rows,
  };
}
