// events, event, locks, cancel-task, variables, errands, curl: reads and small actions
// straight on the director API (director-api §2.1-2.3, §2.5).
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { collectVar } from '../flags.js';
import type { Wrap } from '../main.js';
import type { EventRow, LockRow } from '../renderers/lists.js';

interface OrphanedDisk {
  disk_cid: string;
  size: number;
  az?: string;
  deployment_name?: string;
  instance_name?: string;
  orphaned_at?: string;
}

interface CleanupPlan {
  releases?: Array<{ name: string; versions: string[] }>;
  stemcells?: Array<{ name: string; version: string }>;
  compiled_packages?: Array<{ package_name: string; stemcell_os: string; stemcell_version: string }>;
  orphaned_disks?: OrphanedDisk[];
  orphaned_vms?: Array<{ cid: string; instance_name?: string; deployment_name?: string }>;
  exported_releases?: string[];
  dns_blobs?: string[];
}

function printCleanupPlan(ctx: CliContext, plan: CleanupPlan): void {
  ctx.ui.printTable({ content: 'releases', header: ['Name', 'Version'], sortBy: [0], rows: (plan.releases ?? []).flatMap((r) => r.versions.map((v) => [r.name, v])) });
  ctx.ui.printTable({ content: 'stemcells', header: ['Name', 'Version'], sortBy: [0], rows: (plan.stemcells ?? []).map((s) => [s.name, s.version]) });
  ctx.ui.printTable({
    content: 'orphaned disks',
    header: ['Disk CID', 'Deployment', 'Instance'],
    sortBy: [0],
    rows: (plan.orphaned_disks ?? []).map((d) => [d.disk_cid, d.deployment_name ?? '', d.instance_name ?? '']),
  });
  ctx.ui.printTable({
    content: 'orphaned VMs',
    header: ['VM CID', 'Deployment', 'Instance'],
    sortBy: [0],
    rows: (plan.orphaned_vms ?? []).map((v) => [v.cid, v.deployment_name ?? '', v.instance_name ?? '']),
  });
}

interface EventsFlags {
  beforeId?: string;
  before?: string;
  after?: string;
  task?: string;
  instance?: string;
  eventUser?: string;
  action?: string;
  objectType?: string;
  objectName?: string;
}

export function registerDirectorInfoCommands(program: Command, wrap: Wrap): void {
  program
    .command('events')
    .description('list events (newest first, at most 200)')
    .option('--before-id <id>', 'events before this id')
    .option('--before <time>', 'events before this time')
    .option('--after <time>', 'events after this time')
    .option('--task <id>', 'events of this task')
    .option('--instance <group/id>', 'events of this instance')
    .option('--event-user <user>', 'events of this user')
    .option('--action <action>', 'events with this action')
    .option('--object-type <type>', 'events with this object type')
    .option('--object-name <name>', 'events with this object name')
    .action(
      wrap(async (ctx, opts: EventsFlags) => {
        const director = await ctx.director();
        const events = await director.getJson<EventRow[]>('/events', {
          before_id: opts.beforeId,
          before_time: opts.before,
          after_time: opts.after,
          deployment: ctx.deploymentName,
          task: opts.task,
          instance: opts.instance,
          user: opts.eventUser,
          action: opts.action,
          object_type: opts.objectType,
          object_name: opts.objectName,
        });
        const { eventsTable } = await import('../renderers/lists.js');
        ctx.ui.printTable(eventsTable(events));
      }),
    );

  program
    .command('event <id>')
    .description('show one event')
    .action(
      wrap(async (ctx, id: string) => {
        const director = await ctx.director();
        const event = await director.getJson<EventRow>(`/events/${encodeURIComponent(id)}`);
        const { eventTable } = await import('../renderers/lists.js');
        ctx.ui.printTable(eventTable(event));
      }),
    );

  program
    .command('locks')
    .description('list current locks')
    .action(
      wrap(async (ctx) => {
        const director = await ctx.director();
        const locks = await director.getJson<LockRow[]>('/locks');
        const { locksTable } = await import('../renderers/lists.js');
        ctx.ui.printTable(locksTable(locks));
      }),
    );

  program
    .command('cancel-task <id>')
    .alias('ct')
    .description('cancel a queued or running task')
    .action(
      wrap(async (ctx, id: string) => {
        if (!/^\d+$/.test(id)) throw new CliError(`Expected task id to be a number but got '${id}'`);
        const director = await ctx.director();
        await director.request('DELETE', `/task/${id}`);
      }),
    );

  program
    .command('cancel-tasks')
    .alias('cts')
    .description('cancel queued (or, with --state processing, running) tasks')
    .option('-t, --type <type>', 'only tasks of this type (repeatable)', collectVar, [])
    .option('-s, --state <state>', 'only tasks in this state: queued, processing (repeatable; default queued)', collectVar, [])
    .action(
      wrap(async (ctx, opts: { type: string[]; state: string[] }) => {
        const director = await ctx.director();
        await director.sendJson('POST', '/tasks/cancel', {
          ...(ctx.deploymentName ? { deployment: ctx.deploymentName } : {}),
          ...(opts.type.length ? { types: opts.type } : {}),
          states: opts.state.length ? opts.state : ['queued'],
        });
      }),
    );

  program
    .command('update-resurrection <on|off>')
    .description('pause (off) or resume (on) resurrection by the health monitor')
    .action(
      wrap(async (ctx, value: string) => {
        if (value !== 'on' && value !== 'off') throw new CliError(`Expected 'on' or 'off' but got '${value}'`);
        const director = await ctx.director();
        await director.sendJson('PUT', '/resurrection', { resurrection_paused: value === 'off' });
      }),
    );

  program
    .command('orphaned-vms')
    .description('list VMs the director no longer manages but did not delete')
    .action(
      wrap(async (ctx) => {
        const director = await ctx.director();
        const vms = await director.getJson<Array<{ cid: string; deployment_name?: string; instance_name?: string; az?: string; ip_addresses?: string[]; orphaned_at?: string }>>('/orphaned_vms');
        ctx.ui.printTable({
          content: 'orphaned_vms',
          header: ['VM CID', 'Deployment', 'Instance', 'AZ', 'IPs', 'Orphaned At'],
          sortBy: [0],
          rows: vms.map((v) => [v.cid, v.deployment_name ?? '', v.instance_name ?? '', v.az ?? '', v.ip_addresses ?? [], v.orphaned_at ?? '']),
        });
      }),
    );

  program
    .command('delete-vm <cid>')
    .description('delete a VM by its CID (the director forgets it too)')
    .action(
      wrap(async (ctx, cid: string) => {
        const director = await ctx.director();
        await ctx.confirm();
        await director.runTask('DELETE', `/vms/${encodeURIComponent(cid)}`, {}, ctx.taskReporter());
      }),
    );

  program
    .command('variables')
    .alias('vars')
    .description("list the deployment's variables (names and ids; values stay with the director)")
    .action(
      wrap(async (ctx) => {
        const director = await ctx.director();
        const deployment = ctx.deployment();
        const variables = await director.getJson<Array<{ id: string; name: string }>>(`/deployments/${encodeURIComponent(deployment)}/variables`);
        const { variablesTable } = await import('../renderers/lists.js');
        ctx.ui.printTable(variablesTable(variables));
      }),
    );

  program
    .command('errands')
    .alias('es')
    .description("list the deployment's errands")
    .action(
      wrap(async (ctx) => {
        const director = await ctx.director();
        const deployment = ctx.deployment();
        const errands = await director.getJson<Array<{ name: string }>>(`/deployments/${encodeURIComponent(deployment)}/errands`);
        const { errandsTable } = await import('../renderers/lists.js');
        ctx.ui.printTable(errandsTable(errands));
      }),
    );

  program
    .command('orphaned-disks')
    .alias('disks')
    .description('list orphaned disks')
    .option('-o, --orphaned', 'list orphaned disks (`disks --orphaned`, as bosh spells it)')
    .action(
      wrap(async (ctx) => {
        const director = await ctx.director();
        const disks = await director.getJson<OrphanedDisk[]>('/disks', { orphaned: true });
        const { iBytes } = await import('./release-dir.js');
        ctx.ui.printTable({
          content: 'disks',
          header: ['Disk CID', 'Size', 'Deployment', 'Instance', 'AZ', 'Orphaned At'],
          sortBy: [{ column: 5, desc: true }],
          rows: disks.map((d) => [d.disk_cid, iBytes(Number(d.size) * 1024 * 1024), d.deployment_name ?? '', d.instance_name ?? '', d.az ?? '', d.orphaned_at ?? '']),
        });
      }),
    );

  program
    .command('delete-disk <cid>')
    .description('delete an orphaned disk')
    .action(
      wrap(async (ctx, cid: string) => {
        const director = await ctx.director();
        await ctx.confirm();
        await director.runTask('DELETE', `/disks/${encodeURIComponent(cid)}`, {}, ctx.taskReporter());
      }),
    );

  program
    .command('attach-disk <instance> <disk-cid>')
    .description('attach a disk to a (stopped --hard) instance of the deployment')
    .option('--disk-properties <value>', "disk properties ('copy' to reuse the previous disk's)")
    .action(
      wrap(async (ctx, slug: string, cid: string, opts: { diskProperties?: string }) => {
        const [group, id] = slug.split('/');
        if (!group || !id) throw new CliError(`Expected instance '${slug}' to be <instance-group>/<id>`);
        const director = await ctx.director();
        const deployment = ctx.deployment();
        await director.runTask(
          'PUT',
          `/disks/${encodeURIComponent(cid)}/attachments`,
          { query: { deployment, job: group, instance_id: id, disk_properties: opts.diskProperties } },
          ctx.taskReporter(),
        );
      }),
    );

  program
    .command('clean-up')
    .description('delete unused releases, stemcells, orphaned disks and VMs (keeps the two newest unused unless --all)')
    .option('--all', 'remove everything unused')
    .option('--keep-orphaned-disks', 'keep orphaned disks')
    .option('--dry-run', 'only show what would be deleted')
    .action(
      wrap(async (ctx, opts: { all?: boolean; keepOrphanedDisks?: boolean; dryRun?: boolean }) => {
        const director = await ctx.director();
        const plan = await director.getJson<CleanupPlan>('/cleanup/dryrun', { remove_all: !!opts.all, keep_orphaned_disks: !!opts.keepOrphanedDisks });
        printCleanupPlan(ctx, plan);
        if (opts.dryRun) return;
        await ctx.confirm();
        await director.runTask(
          'POST',
          '/cleanup',
          { body: JSON.stringify({ config: { remove_all: !!opts.all, keep_orphaned_disks: !!opts.keepOrphanedDisks } }), contentType: 'application/json' },
          ctx.taskReporter(),
        );
      }),
    );

  program
    .command('curl <path>')
    .description('make an HTTP request to the director (for debugging)')
    .option('-X, --method <method>', 'HTTP method', 'GET')
    .option('-H, --header <name: value>', 'request header (repeatable)', collectVar, [])
    .option('--body <path>', 'file to send as the request body')
    .option('-i, --show-headers', 'show the response status and headers')
    .action(
      wrap(async (ctx, path: string, opts: { method: string; header: string[]; body?: string; showHeaders?: boolean }) => {
        const director = await ctx.director();
        const headers: Record<string, string> = {};
        for (const h of opts.header) {
          const colon = h.indexOf(':');
          if (colon <= 0) throw new CliError(`Expected header '${h}' to be in format 'name: value'`);
          headers[h.slice(0, colon).trim()] = h.slice(colon + 1).trim();
        }
        const res = await director.raw(opts.method.toUpperCase(), path, { headers, body: opts.body ? { file: opts.body } : undefined });
        if (opts.showHeaders) {
          const lines = [`HTTP ${res.status}`, ...Object.entries(res.headers).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : v}`)];
          ctx.ui.printBlock(lines.join('\n') + '\n\n');
        }
        const body = res.body.toString('utf8');
        ctx.ui.printBlock(body.endsWith('\n') || body === '' ? body : body + '\n');
        if (res.status >= 400) throw new CliError(`Director responded with non-successful status code '${res.status}'`);
      }),
    );
}
