// Parses monit's `GET /_status2?format=xml` document (agent-protocol.md §6.3) and derives the
// per-service state, job_state (§6.4) and `processes` entries (§6.5). Pure functions.
import type { JobState, ProcessState } from '../../common/protocol.js';

export interface MonitService {
  name: string;
  status: number;
  statusMessage: string;
  monitor: number;
  pendingAction: number;
  uptime: number;
  memoryKbTotal: number;
  memoryPercentTotal: number;
  cpuPercentTotal: number;
}

export interface MonitStatus {
  incarnation: string;
  services: MonitService[];
  /** Service names per monit service group. */
  groups: Record<string, string[]>;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name.startsWith('#x') || name.startsWith('#X')) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(parseInt(name.slice(1), 10));
    return ENTITIES[name] ?? whole;
  });
}

/** Text of the first `<tag>` element in xml (not nested-aware; monit's elements are flat enough). */
function firstElement(xml: string, tag: string): string | undefined {
  const match = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`).exec(xml);
  return match ? match[1] : undefined;
}

function num(text: string | undefined): number {
  const value = Number(text ?? '0');
  return Number.isFinite(value) ? value : 0;
}

function parseService(name: string, body: string): MonitService {
  const memory = firstElement(body, 'memory') ?? '';
  const cpu = firstElement(body, 'cpu') ?? '';
  return {
    name,
    status: num(firstElement(body, 'status')),
    statusMessage: decodeEntities(firstElement(body, 'status_message') ?? ''),
    monitor: num(firstElement(body, 'monitor')),
    pendingAction: num(firstElement(body, 'pendingaction')),
    uptime: num(firstElement(body, 'uptime')),
    memoryKbTotal: num(firstElement(memory, 'kilobytetotal')),
    memoryPercentTotal: num(firstElement(memory, 'percenttotal')),
    cpuPercentTotal: num(firstElement(cpu, 'percenttotal')),
  };
}

export function parseMonitStatus(xml: string): MonitStatus {
  const root = /<monit\b([^>]*)>/.exec(xml);
  if (!root) throw new Error('Unmarshalling Monit status: no <monit> element');
  const incarnation = /incarnation="([^"]*)"/.exec(root[1])?.[1] ?? firstElement(xml, 'incarnation') ?? '';
  const services: MonitService[] = [];
  const servicesXml = firstElement(xml, 'services') ?? '';
  for (const m of servicesXml.matchAll(/<service\s+name="([^"]*)"\s*>([\s\S]*?)<\/service>/g)) {
    services.push(parseService(decodeEntities(m[1]), m[2]));
  }
  const groups: Record<string, string[]> = {};
  const groupsXml = firstElement(xml, 'servicegroups') ?? '';
  for (const g of groupsXml.matchAll(/<servicegroup\s+name="([^"]*)"\s*>([\s\S]*?)<\/servicegroup>/g)) {
    groups[decodeEntities(g[1])] = [...g[2].matchAll(/<service>([\s\S]*?)<\/service>/g)].map((s) => decodeEntities(s[1]));
  }
  return { incarnation, services, groups };
}

/** Services in monit group `vcap`: the only ones the agent manages. */
export function vcapServices(status: MonitStatus): MonitService[] {
  const names = new Set(status.groups.vcap ?? []);
  return status.services.filter((s) => names.has(s.name));
}

export function serviceState(s: MonitService): string {
  if (s.monitor === 0) return 'unknown';
  if (s.monitor === 2) return 'starting';
  return s.status === 0 ? 'running' : 'failing';
}

/** §6.4 steps 3-5 (steps 1-2, monit unreachable and the stopped marker, are the caller's). */
export function jobStateOf(services: MonitService[]): JobState {
  if (services.some((s) => serviceState(s) === 'starting')) return 'starting';
  if (services.some((s) => s.monitor === 0 || serviceState(s) !== 'running')) return 'failing';
  return 'running';
}

export function processesOf(services: MonitService[]): ProcessState[] {
  return services.map((s) => {
    const mem: ProcessState['mem'] = { percent: s.memoryPercentTotal };
    if (s.memoryKbTotal !== 0) mem.kb = s.memoryKbTotal;
    return {
      name: s.name,
      state: serviceState(s),
      uptime: s.uptime !== 0 ? { secs: s.uptime } : {},
      mem,
      cpu: { total: s.cpuPercentTotal },
    };
  });
}
