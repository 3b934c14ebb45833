// deploy, deployments, delete-deployment, manifest.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse } from 'yaml';
import { CliError } from '../context.js';
import { collectVar, interpolate, loadVars } from '../vars.js';
import type { Wrap } from '../main.js';

interface DeploymentRow {
  name: string;
  teams?: string[];
  releases?: Array<{ name: string; version: string }>;
  stemcells?: Array<{ name: string; version: string }>;
}

export function registerDeploymentCommands(program: Command, wrap: Wrap): void {
  program
    .command('deploy <manifest>')
    .description('update (or create) a deployment from a manifest')
    .option('-v, --var <name=value>', 'set a variable (repeatable)', collectVar, [])
    .option('-l, --vars-file <path>', 'load variables from a YAML file (repeatable)', collectVar, [])
    .option('--recreate', 'recreate all VMs')
    .option('--fix', 'fix unresponsive VMs')
    .option('--dry-run', 'plan without changing anything')
    .action(
      wrap(async (ctx, path: string, opts: { var: string[]; varsFile: string[]; recreate?: boolean; fix?: boolean; dryRun?: boolean }) => {
        const manifest = interpolate(readFileSync(path, 'utf8'), loadVars(opts.var, opts.varsFile));
        const name = (parse(manifest, { version: '1.1' }) as { name?: string } | null)?.name;
        if (!name) throw new CliError(`Expected manifest '${path}' to specify a deployment name`);
        const deployment = ctx.deploymentName ?? name;
        if (deployment !== name) {
          throw new CliError(`Expected manifest '${path}' to be for deployment '${deployment}' but it names '${name}'`);
        }
        const director = await ctx.director();
        ctx.ui.printLine(`Using deployment '${name}'`);
        await director.runTask(
          'POST',
          '/deployments',
          {
            body: manifest,
            contentType: 'text/yaml',
            query: {
              recreate: opts.recreate ? 'true' : undefined,
              fix: opts.fix ? 'true' : undefined,
              dry_run: opts.dryRun ? 'true' : undefined,
            },
          },
          ctx.taskReporter(),
        );
      }),
    );

  program
    .command('deployments')
    .description('list deployments')
    .action(
      wrap(async (ctx) => {
        const director = await ctx.director();
        const deployments = await director.getJson<DeploymentRow[]>('/deployments', { exclude_configs: 'true' });
        ctx.ui.printTable({
          content: 'deployments',
          header: ['Name', 'Release(s)', 'Stemcell(s)', 'Team(s)'],
          rows: deployments.map((d) => [
            d.name,
            (d.releases ?? []).map((r) => `${r.name}/${r.version}`),
            (d.stemcells ?? []).map((s) => `${s.name}/${s.version}`),
            d.teams ?? [],
          ]),
        });
      }),
    );

  program
    .command('delete-deployment')
    .description('delete the deployment given with -d, with its VMs')
    .option('--force', 'ignore errors while deleting')
    .action(
      wrap(async (ctx, opts: { force?: boolean }) => {
        const director = await ctx.director();
        const name = ctx.deployment();
        await ctx.confirm();
        await director.runTask(
          'DELETE',
          `/deployments/${encodeURIComponent(name)}`,
          { query: { force: opts.force ? 'true' : undefined } },
          ctx.taskReporter(),
        );
      }),
    );

  program
    .command('manifest')
    .description("show the deployment's manifest")
    .action(
      wrap(async (ctx) => {
        const director = await ctx.director();
        const name = ctx.deployment();
        const { manifest } = await director.getJson<{ manifest: string }>(`/deployments/${encodeURIComponent(name)}`);
        ctx.ui.printBlock(manifest.endsWith('\n') ? manifest : manifest + '\n');
      }),
    );
}
