// update-cloud-config, cloud-config (the legacy typed endpoints the bosh CLI uses, §2.9).
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError } from '../context.js';
import { collectVar, interpolate, loadVars } from '../vars.js';
import type { Wrap } from '../main.js';

export function registerConfigCommands(program: Command, wrap: Wrap): void {
  program
    .command('update-cloud-config <path>')
    .description('update the cloud config')
    .option('--name <name>', 'config name', 'default')
    .option('-v, --var <name=value>', 'set a variable (repeatable)', collectVar, [])
    .option('-l, --vars-file <path>', 'load variables from a YAML file (repeatable)', collectVar, [])
    .action(
      wrap(async (ctx, path: string, opts: { name: string; var: string[]; varsFile: string[] }) => {
        const content = interpolate(readFileSync(path, 'utf8'), loadVars(opts.var, opts.varsFile));
        const director = await ctx.director();
        await director.request('POST', '/cloud_configs', {
          body: content,
          contentType: 'text/yaml',
          query: { name: opts.name === 'default' ? undefined : opts.name },
        });
      }),
    );

  program
    .command('cloud-config')
    .description('show the current cloud config')
    .option('--name <name>', 'config name', 'default')
    .action(
      wrap(async (ctx, opts: { name: string }) => {
        const director = await ctx.director();
        const configs = await director.getJson<Array<{ properties: string }>>('/cloud_configs', {
          limit: 1,
          name: opts.name === 'default' ? undefined : opts.name,
        });
        if (configs.length === 0) throw new CliError('No cloud config');
        ctx.ui.printBlock(configs[0].properties.endsWith('\n') ? configs[0].properties : configs[0].properties + '\n');
      }),
    );
}
