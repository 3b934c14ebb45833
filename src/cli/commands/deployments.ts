// deploy, deployments, delete-deployment, manifest, interpolate.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import type { DirectorClient } from '../director-client.js';
import { addTemplateOptions, addVarsStoreOption, type TemplateOptions } from '../flags.js';
import type { Wrap } from '../main.js';
import type { DeploymentRow } from '../renderers/lists.js';

interface DeployFlags extends TemplateOptions {
  recreate?: boolean;
  recreatePersistentDisks?: boolean;
  recreateVmsCreatedBefore?: string;
  fix?: boolean;
  fixReleases?: boolean;
  skipDrain?: string[] | boolean;
  canaries?: string;
  maxInFlight?: string;
  dryRun?: boolean;
  redact?: boolean;
}

/** `-` reads standard input, as bosh does. */
export function readInput(path: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    throw new CliError(`Reading '${path}': ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file does not exist' : (err as Error).message}`);
  }
}

export function registerDeploymentCommands(program: Command, wrap: Wrap): void {
  addVarsStoreOption(addTemplateOptions(program.command('deploy <manifest>').description('update (or create) a deployment from a manifest')))
    .option('--recreate', 'recreate all VMs')
    .option('--recreate-persistent-disks', 'recreate all persistent disks')
    .option('--recreate-vms-created-before <timestamp>', 'only recreate VMs created before this RFC 3339 time')
    .option('--fix', 'fix unresponsive VMs')
    .option('--fix-releases', 'upload the releases with a url again, replacing corrupt or missing jobs and packages')
    .option('--skip-drain [instance-group...]', 'skip drain scripts (of all, or of the given instance groups)')
    .option('--canaries <n|n%>', 'override the manifest canaries')
    .option('--max-in-flight <n|n%>', 'override the manifest max_in_flight')
    .option('--dry-run', 'plan without changing anything')
    .option('--no-redact', 'show secrets in the manifest diff')
    .action(
      wrap(async (ctx, path: string, opts: DeployFlags) => {
        const { renderTemplate } = await import('../vars.js');
        const { parse } = await import('yaml');
        let manifest = renderTemplate(readInput(path), path, opts);
        const name = (parse(manifest, { version: '1.1' }) as { name?: string } | null)?.name;
        if (!name) throw new CliError(`Expected manifest '${path}' to specify a deployment name`);
        const deployment = ctx.deploymentName ?? name;
        if (deployment !== name) {
          throw new CliError(`Expected manifest '${path}' to be for deployment '${deployment}' but it names '${name}'`);
        }
        const director = await ctx.director();
        ctx.ui.printLine(`Using deployment '${name}'`);
        const { uploadManifestReleases } = await import('../release-uploads.js');
        manifest = await uploadManifestReleases(ctx, director, manifest, !!opts.fixReleases);
        const context = await showDiff(ctx, director, name, manifest, opts.redact !== false);
        await ctx.confirm();
        await director.runTask(
          'POST',
          '/deployments',
          {
            body: manifest,
            contentType: 'text/yaml',
            query: {
              recreate: opts.recreate || opts.recreateVmsCreatedBefore ? 'true' : undefined,
              recreate_persistent_disks: opts.recreatePersistentDisks ? 'true' : undefined,
              recreate_vms_created_before: opts.recreateVmsCreatedBefore,
              fix: opts.fix ? 'true' : undefined,
              skip_drain: opts.skipDrain === true ? '*' : Array.isArray(opts.skipDrain) ? opts.skipDrain.join(',') : undefined,
              canaries: opts.canaries,
              max_in_flight: opts.maxInFlight,
              dry_run: opts.dryRun ? 'true' : undefined,
              context: context ? JSON.stringify(context) : undefined,
            },
          },
          ctx.taskReporter(),
        );
      }),
    );

  addVarsStoreOption(addTemplateOptions(program.command('interpolate <path>').alias('int').description('interpolate variables and apply ops files to a YAML file (offline)')))
    .option('--path <pointer>', 'print only the value at this path (e.g. /instance_groups/name=web/instances)')
    .option('--var-errs', 'fail when a variable is not given')
    .option('--var-errs-unused', 'fail when a given variable is not used')
    .action(
      wrap(async (ctx, path: string, opts: TemplateOptions) => {
        const { evaluateTemplate, toYaml } = await import('../vars.js');
        const value = evaluateTemplate(readInput(path), path, opts);
        // a string at --path prints as itself (certificates, passwords), like bosh
        const text = opts.path && typeof value === 'string' ? value : toYaml(value);
        ctx.ui.printBlock(text.endsWith('\n') ? text : text + '\n');
      }),
    );

  program
    .command('deployments')
    .alias('ds')
    .description('list deployments')
    .action(
      wrap(async (ctx) => {
        const director = await ctx.director();
        const deployments = await director.getJson<DeploymentRow[]>('/deployments', { exclude_configs: 'true' });
        const { deploymentsTable } = await import('../renderers/lists.js');
        ctx.ui.printTable(deploymentsTable(deployments));
      }),
    );

  program
    .command('delete-deployment')
    .alias('deld')
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
    .alias('man')
    .description("show the deployment's manifest")
    .option('--no-redact', 'show secret values (properties and env are redacted by default)')
    .action(
      wrap(async (ctx, opts: { redact?: boolean }) => {
        const director = await ctx.director();
        const name = ctx.deployment();
        const query = { redact: opts.redact === false ? 'false' : 'true' };
        const { manifest } = await director.getJson<{ manifest: string }>(`/deployments/${encodeURIComponent(name)}`, query);
        ctx.ui.printBlock(manifest.endsWith('\n') ? manifest : manifest + '\n');
      }),
    );
}

export type DiffLine = [string, 'added' | 'removed' | null];

/**
 * Shows what the deploy changes (POST /deployments/<name>/diff) and returns the config ids the
 * director diffed against (sent back as `context`). A director without the route: no diff.
 */
async function showDiff(ctx: CliContext, director: DirectorClient, name: string, manifest: string, redact: boolean): Promise<unknown> {
  const res = await director.raw('POST', `/deployments/${encodeURIComponent(name)}/diff`, {
    body: manifest,
    contentType: 'text/yaml',
    query: { redact: redact ? 'true' : 'false' },
  });
  const text = res.body.toString('utf8');
  if (res.status === 404 && text.startsWith('Endpoint ')) return undefined; // a director without the route
  // the diff is advice: a director that cannot compute it does not stop the deploy
  if (res.status !== 200) {
    ctx.ui.errorLine(`Warning: no manifest diff (director responded with status code '${res.status}' response '${text.trim()}')`);
    return undefined;
  }
  const body = JSON.parse(text) as { context?: unknown; diff?: DiffLine[]; error?: string };
  if (body.error) ctx.ui.errorLine(`Warning: no manifest diff: ${body.error}`);
  printDiff(ctx, body.diff ?? []);
  return body.context;
}

export function printDiff(ctx: CliContext, diff: DiffLine[]): void {
  if (diff.length === 0) return;
  const color = !ctx.options.json && process.stdout.isTTY && !process.env.NO_COLOR;
  const text = diff
    .map(([line, state]) => {
      if (state === 'added') return color ? `\x1b[32m+ ${line}\x1b[0m` : `+ ${line}`;
      if (state === 'removed') return color ? `\x1b[31m- ${line}\x1b[0m` : `- ${line}`;
      return `  ${line}`;
    })
    .join('\n');
  ctx.ui.printBlock(text + '\n');
}
