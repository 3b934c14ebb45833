// `vms` and `instances` tables from the director's format=full result lines (director-api §3.2),
// with bosh's optional column groups: --ps (processes), --details, --vitals; --failing keeps
// the instances (and processes) that are not running.
import type { Table } from './table.js';
import { formatUnixDate } from './time.js';

interface MemSize {
  kb?: string | number;
  percent?: string | number;
}

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
  state?: string | null;
  vm_type: string | null;
  resource_pool?: string | null;
  disk_cids?: string[];
  disk_cid?: string | null;
  bootstrap?: boolean;
  ignore?: boolean;
  resurrection_paused?: boolean;
  vm_created_at?: string | null;
  processes?: Array<{ name: string; state: string; uptime?: { secs?: number }; mem?: MemSize; cpu?: { total?: number } }>;
  vitals?: {
    cpu?: { sys?: string; user?: string; wait?: string };
    mem?: MemSize;
    swap?: MemSize;
    load?: string[];
    disk?: Record<string, { percent?: string; inode_percent?: string }>;
    uptime?: { secs?: number };
  } | null;
}

export interface InstanceTableOptions {
  processes?: boolean;
  /** VM CID, VM Type, Active (always on for `vms`) */
  vmDetails?: boolean;
  details?: boolean;
  vitals?: boolean;
  failing?: boolean;
}

/** One JSON object per line; blank lines ignored. */
export function parseVmInfoLines(result: string): VmInfo[] {
  return result
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as VmInfo);
}

const instanceName = (vm: VmInfo) => `${vm.job_name || '?'}${vm.id ? `/${vm.id}` : ''}`;
const byInstance = (a: VmInfo, b: VmInfo) => (instanceName(a) < instanceName(b) ? -1 : instanceName(a) > instanceName(b) ? 1 : 0);
const isRunning = (state: string | null | undefined) => state === 'running';

export function vmsTable(deployment: string, vms: VmInfo[], opts: InstanceTableOptions = {}): Table {
  return instanceTable(deployment, 'vms', vms, { ...opts, vmDetails: true, processes: false });
}

export function instancesTable(deployment: string, instances: VmInfo[], opts: InstanceTableOptions | boolean = {}): Table {
  const options = typeof opts === 'boolean' ? { processes: opts } : opts;
  return instanceTable(deployment, 'instances', instances, options);
}

function headers(o: InstanceTableOptions): string[] {
  const h = ['Instance'];
  if (o.processes) h.push('Process');
  h.push('Process State', 'AZ', 'IPs');
  if (o.details) h.push('State', 'VM CID', 'VM Type', 'Disk CIDs', 'Agent ID', 'Index', 'Resurrection\nPaused', 'Bootstrap', 'Ignore');
  else if (o.vmDetails) h.push('VM CID', 'VM Type', 'Active');
  if (o.vitals) {
    h.push('VM Created At', 'Uptime', 'Load\n(1m, 5m, 15m)', 'CPU\nTotal', 'CPU\nUser', 'CPU\nSys', 'CPU\nWait', 'Memory\nUsage', 'Swap\nUsage');
    h.push('System\nDisk Usage', 'Ephemeral\nDisk Usage', 'Persistent\nDisk Usage');
  }
  return h;
}

function instanceRow(i: VmInfo, o: InstanceTableOptions): Array<string | string[]> {
  const row: Array<string | string[]> = [instanceName(i)];
  if (o.processes) row.push('');
  row.push(i.job_state ?? '', i.az ?? '', i.ips ?? []);
  if (o.details) {
    row.push(
      i.state ?? '',
      i.vm_cid ?? '',
      i.vm_type || i.resource_pool || '',
      i.disk_cids ?? (i.disk_cid ? [i.disk_cid] : []),
      i.agent_id ?? '',
      i.index === null || i.index === undefined ? '' : String(i.index),
      String(!!i.resurrection_paused),
      String(!!i.bootstrap),
      String(!!i.ignore),
    );
  } else if (o.vmDetails) {
    row.push(i.vm_cid ?? '', i.vm_type || i.resource_pool || '', i.active === null || i.active === undefined ? '-' : String(i.active));
  }
  if (o.vitals) {
    const v = i.vitals ?? {};
    const disk = (name: string) => {
      const d = v.disk?.[name];
      return d?.percent && d.inode_percent ? `${d.percent}% (${d.inode_percent}i%)` : '';
    };
    row.push(
      i.vm_created_at ? formatCreatedAt(i.vm_created_at) : '',
      uptime(v.uptime?.secs),
      (v.load ?? []).join(', '),
      '',
      percent(v.cpu?.user),
      percent(v.cpu?.sys),
      percent(v.cpu?.wait),
      memSize(v.mem),
      memSize(v.swap),
      disk('system'),
      disk('ephemeral'),
      disk('persistent'),
    );
  }
  return row;
}

function processRow(p: NonNullable<VmInfo['processes']>[number], o: InstanceTableOptions, width: number): string[] {
  const row = new Array<string>(width).fill('');
  row[0] = '~';
  row[1] = p.name;
  row[2] = p.state;
  if (o.vitals) {
    const base = headers({ ...o, vitals: false }).length;
    row[base + 1] = uptime(p.uptime?.secs);
    row[base + 3] = typeof p.cpu?.total === 'number' ? `${p.cpu.total.toFixed(1)}%` : '';
    row[base + 7] = p.mem && p.mem.kb !== undefined && p.mem.percent !== undefined ? `${Number(p.mem.percent).toFixed(1)}% (${humanBytes(Number(p.mem.kb) * 1000)})` : '';
  }
  return row;
}

function instanceTable(deployment: string, content: string, instances: VmInfo[], o: InstanceTableOptions): Table {
  const header = headers(o);
  const shown = o.failing ? instances.filter((i) => !isRunning(i.job_state) || (i.processes ?? []).some((p) => !isRunning(p.state))) : instances;
  if (!o.processes) return { title: `Deployment '${deployment}'`, content, header, sortBy: [0], rows: shown.map((i) => instanceRow(i, o)) };
  // --ps: the instance row, then one row per process ('~' in the instance column); sorted here
  // because rows belong together
  const rows: Array<Array<string | string[]>> = [];
  for (const i of [...shown].sort(byInstance)) {
    rows.push(instanceRow(i, o));
    for (const p of i.processes ?? []) {
      if (!o.failing || !isRunning(p.state)) rows.push(processRow(p, o, header.length));
    }
  }
  return { title: `Deployment '${deployment}'`, content, header, rows };
}

function percent(value: string | undefined): string {
  return value ? `${value}%` : '';
}

function memSize(m: MemSize | undefined): string {
  if (!m || m.percent === undefined || m.kb === undefined || m.percent === '' || m.kb === '') return '';
  return `${m.percent}% (${humanBytes(Number(m.kb) * 1000)})`;
}

function uptime(secs: number | undefined): string {
  if (typeof secs !== 'number') return '';
  return `${Math.floor(secs / 86400)}d ${Math.floor(secs / 3600) % 24}h ${Math.floor(secs / 60) % 60}m ${secs % 60}s`;
}

/** SI sizes as go-humanize prints them: `512 B`, `1.2 kB`, `34 MB`. */
export function humanBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '';
  if (bytes < 10) return `${bytes} B`;
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  const e = Math.min(Math.floor(Math.log(bytes) / Math.log(1000)), units.length - 1);
  const value = Math.floor((bytes / 1000 ** e) * 10 + 0.5) / 10;
  return `${value < 10 ? value.toFixed(1) : value.toFixed(0)} ${units[e]}`;
}

/** bosh prints times as `Mon Jan  2 15:04:05 UTC 2006`; the director may send RFC 3339 or `YYYY-MM-DD HH:MM:SS +0000`. */
function formatCreatedAt(value: string): string {
  const t = Date.parse(value.replace(/^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) \+0000$/, '$1T$2Z'));
  return Number.isNaN(t) ? value : formatUnixDate(Math.floor(t / 1000));
}
