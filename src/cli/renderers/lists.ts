// bosh's list tables (deployments, releases, stemcells, tasks, events, locks, variables,
// configs, errands): the same columns, notes and default sort order as the v7 CLI.
import { stringify } from 'yaml';
import type { Table } from './table.js';
import { formatUnixDate } from './time.js';
import { compareVersions } from '../../common/versions.js';

export interface DeploymentRow {
  name: string;
  teams?: string[];
  releases?: Array<{ name: string; version: string }>;
  stemcells?: Array<{ name: string; version: string }>;
}

export function deploymentsTable(deployments: DeploymentRow[]): Table {
  return {
    content: 'deployments',
    header: ['Name', 'Release(s)', 'Stemcell(s)', 'Team(s)'],
    sortBy: [0],
    rows: deployments.map((d) => [
      d.name,
      (d.releases ?? []).map((r) => `${r.name}/${r.version}`).sort(),
      (d.stemcells ?? []).map((s) => `${s.name}/${s.version}`).sort(),
      d.teams ?? [],
    ]),
  };
}

export interface ReleaseRow {
  name: string;
  release_versions: Array<{ version: string; commit_hash: string; uncommitted_changes: boolean; currently_deployed: boolean }>;
}

/** Versions newest first within a release, as the director lists them reversed. */
export function releasesTable(releases: ReleaseRow[]): Table {
  const rows = [...releases]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((r) =>
      [...r.release_versions]
        .sort((a, b) => compareVersions(b.version, a.version))
        .map((v) => [r.name, v.version + (v.currently_deployed ? '*' : ''), v.commit_hash + (v.uncommitted_changes ? '+' : '')]),
    );
  return {
    content: 'releases',
    header: ['Name', 'Version', 'Commit Hash'],
    rows,
    notes: ['(*) Currently deployed', '(+) Uncommitted changes'],
  };
}

export interface StemcellRow {
  name: string;
  operating_system: string;
  version: string;
  cid: string;
  cpi?: string;
  deployments: Array<{ name: string } | string>;
}

export function stemcellsTable(stemcells: StemcellRow[]): Table {
  const rows = [...stemcells]
    .sort((a, b) => (a.name !== b.name ? (a.name < b.name ? -1 : 1) : compareVersions(b.version, a.version)))
    .map((s) => [s.name, s.version + (s.deployments.length ? '*' : ''), s.operating_system, s.cpi ?? '', s.cid]);
  return {
    content: 'stemcells',
    header: ['Name', 'Version', 'OS', 'CPI', 'CID'],
    rows,
    notes: ['(*) Currently deployed'],
  };
}

export interface TaskRow {
  id: number;
  state: string;
  description: string;
  timestamp: number | null;
  started_at: number | null;
  result: string | null;
  user: string;
  deployment: string | null;
}

const RUNNING = new Set(['queued', 'processing', 'cancelling']);

/** Newest first (the director's order); --sort orders by ID descending the same way. */
export function tasksTable(tasks: TaskRow[]): Table {
  return {
    content: 'tasks',
    header: ['ID', 'State', 'Started At', 'Finished At', 'User', 'Deployment', 'Description', 'Result'],
    sortBy: [{ column: 0, desc: true, numeric: true }],
    rows: tasks.map((t) => [
        String(t.id),
        t.state,
        t.started_at ? formatUnixDate(t.started_at) : '',
        t.timestamp && !RUNNING.has(t.state) ? formatUnixDate(t.timestamp) : '',
        t.user ?? '',
        t.deployment ?? '',
        t.description ?? '',
        t.result ?? '',
      ]),
  };
}

export interface EventRow {
  id: string;
  parent_id?: string;
  timestamp: number;
  user?: string;
  action?: string;
  object_type?: string;
  object_name?: string;
  error?: string;
  task?: string;
  deployment?: string;
  instance?: string;
  context?: Record<string, unknown>;
}

/** `<id> <- <parent id>` marks the end event of an action; the context prints as YAML. */
export function eventsTable(events: EventRow[]): Table {
  return {
    content: 'events',
    header: ['ID', 'Time', 'User', 'Action', 'Object Type', 'Object ID', 'Task ID', 'Deployment', 'Instance', 'Context', 'Error'],
    sortBy: [{ column: 0, desc: true, numeric: true }],
    rows: events.map((e) => [
        e.parent_id ? `${e.id} <- ${e.parent_id}` : e.id,
        formatUnixDate(e.timestamp),
        e.user ?? '',
        e.action ?? '',
        e.object_type ?? '',
        e.object_name ?? '',
        e.task ?? '',
        e.deployment ?? '',
        e.instance ?? '',
        contextLines(e.context),
        e.error ?? '',
      ]),
  };
}

export function eventTable(e: EventRow): Table {
  const table = eventsTable([e]);
  return { ...table, content: '', transpose: true };
}

function contextLines(context: Record<string, unknown> | undefined): string {
  if (!context || Object.keys(context).length === 0) return '';
  return stringify(context, { sortMapEntries: true, indentSeq: false, lineWidth: 0 }).trim();
}

export interface LockRow {
  type: string;
  resource: string[];
  timeout: string;
  task_id: string;
}

export function locksTable(locks: LockRow[]): Table {
  return {
    content: 'locks',
    header: ['Type', 'Resource', 'Task ID', 'Expires at'],
    sortBy: [0, 1],
    rows: locks.map((l) => [l.type, l.resource.join(':'), l.task_id, formatUnixDate(Math.floor(Number(l.timeout)))]),
  };
}

export function variablesTable(variables: Array<{ id: string; name: string }>): Table {
  return {
    content: 'variables',
    header: ['ID', 'Name'],
    sortBy: [1],
    rows: variables.map((v) => [String(v.id), v.name]),
  };
}

export interface ConfigRow {
  id: string;
  type: string;
  name: string;
  team?: string | null;
  created_at: string;
  current?: boolean;
}

export function configsTable(configs: ConfigRow[], recent: boolean): Table {
  const notes = ['(*) Currently active'];
  if (!recent) notes.push('Only showing active configs. To see older versions use the --recent=10 option.');
  return {
    content: 'configs',
    header: ['ID', 'Type', 'Name', 'Team', 'Created At'],
    rows: configs.map((c) => [String(c.id) + (c.current ? '*' : ''), c.type, c.name, c.team ?? '', c.created_at]),
    notes,
  };
}

export function errandsTable(errands: Array<{ name: string }>): Table {
  return { content: 'errands', header: ['Name'], sortBy: [0], rows: errands.map((e) => [e.name]) };
}

