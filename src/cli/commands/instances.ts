// vms, instances: a `vms`-type task per deployment, its result lines rendered as a table.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { instancesTable, parseVmInfoLines, vmsTable, type VmInfo } from '../renderers/instances.js';
import type { Wrap } from '../main.js';

async function deploymentNames(ctx: CliContext): Promise<string[]> {
  if (ctx.deploymentName) return [ctx.deployment()];
  const director = await ctx.director();
  const all = await director.getJson<Array<{ name: string }>>('/deployments', { exclude_configs: 'true', exclude_releases: 'true', exclude_stemcells: 'true' });
  return all.map((d) => d.name);
}

async function fetchInfo(ctx: CliContext, deployment: string, what: 'vms' | 'instances'): Promise<VmInfo[]> {
  const director = await ctx.director();
  const task = await director.runTask(
    'GET',
    `/deployments/${encodeURIComponent(deployment)}/${what}`,
    { query: { format: 'full' } },
    ctx.taskReporter(),
  );
  return parseVmInfoLines(await director.taskOutput(task.id, 'result'));
}

interface TableFlags {
  ps?: boolean;
  details?: boolean;
  vitals?: boolean;
  failing?: boolean;
}

export function registerInstanceCommands(program: Command, wrap: Wrap): void {
  program
    .command('vms')
    .description('list the VMs of a deployment (-d) or of all deployments')
    .option('-i, --details', 'show details (state, disks, agent id, ...)')
    .option('--vitals', 'show vitals (load, CPU, memory, disks)')
    .action(
      wrap(async (ctx, opts: TableFlags) => {
        await ctx.director();
        for (const name of await deploymentNames(ctx)) {
          ctx.ui.printTable(vmsTable(name, await fetchInfo(ctx, name, 'vms'), { details: opts.details, vitals: opts.vitals }));
        }
      }),
    );

  program
    .command('instances')
    .alias('is')
    .description('list the instances of a deployment (-d) or of all deployments')
    .option('-p, --ps', 'show processes')
    .option('-i, --details', 'show details (state, VM, disks, agent id, ...)')
    .option('--vitals', 'show vitals (load, CPU, memory, disks)')
    .option('-f, --failing', 'only show instances (and processes) that are not running')
    .action(
      wrap(async (ctx, opts: TableFlags) => {
        await ctx.director();
        for (const name of await deploymentNames(ctx)) {
          ctx.ui.printTable(
            instancesTable(name, await fetchInfo(ctx, name, 'instances'), { processes: opts.ps, details: opts.details, vitals: opts.vitals, failing: opts.failing }),
          );
        }
      }),
    );
}
