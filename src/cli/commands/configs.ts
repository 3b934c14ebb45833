// Configs (director-api §2.9): the typed cloud/runtime/cpi-config commands on the legacy
// endpoints the bosh CLI uses, and the generic configs/config/update-config/delete-config/diff-config.
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { addTemplateOptions, type TemplateOptions } from '../flags.js';
import type { Wrap } from '../main.js';
import type { ConfigRow } from '../renderers/lists.js';
import { printDiff, readInput, type DiffLine } from './deployments.js';

interface NameFlag {
  name?: string;
}

/** cloud-config and runtime-config are named (default `default`); cpi-config is not. */
const TYPED = [
  { type: 'cloud', command: 'cloud-config', alias: 'cc', path: '/cloud_configs', named: true },
  { type: 'runtime', command: 'runtime-config', alias: 'rc', path: '/runtime_configs', named: true },
  { type: 'cpi', command: 'cpi-config', alias: undefined, path: '/cpi_configs', named: false },
] as const;

async function render(path: string, opts: TemplateOptions): Promise<string> {
  const { renderTemplate } = await import('../vars.js');
  return renderTemplate(readInput(path), path, opts);
}

export function registerConfigCommands(program: Command, wrap: Wrap): void {
  for (const t of TYPED) {
    const update = program.command(`update-${t.command} <path>`).description(`update the ${t.type} config`);
    if (t.alias) update.alias(`u${t.alias}`);
    if (t.named) update.option('--name <name>', 'config name', 'default');
    addTemplateOptions(update)
      .option('--no-redact', 'show secrets in the diff')
      .action(
        wrap(async (ctx, path: string, opts: TemplateOptions & NameFlag & { redact?: boolean }) => {
          const content = await render(path, opts);
          const director = await ctx.director();
          const name = t.named && opts.name !== 'default' ? opts.name : undefined;
          const diff = await director.raw('POST', `${t.path}/diff`, {
            body: content,
            contentType: 'text/yaml',
            query: { name, redact: opts.redact === false ? 'false' : undefined },
          });
          if (diff.status === 200) {
            const body = JSON.parse(diff.body.toString('utf8')) as { diff?: DiffLine[]; error?: string };
            if (body.error) throw new CliError(body.error);
            printDiff(ctx, body.diff ?? []);
          }
          await ctx.confirm();
          await director.request('POST', t.path, { body: content, contentType: 'text/yaml', query: { name } });
        }),
      );

    const show = program.command(t.command).description(`show the current ${t.type} config`);
    if (t.alias) show.alias(t.alias);
    if (t.named) show.option('--name <name>', 'config name', 'default');
    show.action(
      wrap(async (ctx, opts: NameFlag) => {
        const director = await ctx.director();
        const configs = await director.getJson<Array<{ properties: string }>>(t.path, {
          limit: 1,
          name: t.named && opts.name !== 'default' ? opts.name : undefined,
        });
        if (configs.length === 0) throw new CliError(`No ${t.type} config`);
        printContent(ctx, configs[0].properties);
      }),
    );
  }

  program
    .command('configs')
    .alias('cs')
    .description('list configs')
    .option('--type <type>', 'only configs of this type')
    .option('--name <name>', 'only configs with this name')
    .option('-r, --recent <number>', 'show this many recent versions of each config')
    .action(
      wrap(async (ctx, opts: { type?: string; name?: string; recent?: string }) => {
        const director = await ctx.director();
        const configs = await director.getJson<ConfigRow[]>('/configs', {
          type: opts.type,
          name: opts.name,
          latest: opts.recent ? 'false' : 'true',
          limit: opts.recent,
        });
        const { configsTable } = await import('../renderers/lists.js');
        ctx.ui.printTable(configsTable(configs, !!opts.recent));
      }),
    );

  program
    .command('config [id]')
    .alias('c')
    .description('show a config by id, or the current one of --type and --name')
    .option('--type <type>', 'config type')
    .option('--name <name>', 'config name')
    .action(
      wrap(async (ctx, id: string | undefined, opts: { type?: string; name?: string }) => {
        const director = await ctx.director();
        let config: ConfigRow & { content: string };
        if (id !== undefined) {
          if (opts.type || opts.name) throw new CliError('Expected either a config id or --type and --name, not both');
          config = await director.getJson(`/configs/${encodeURIComponent(id)}`);
        } else {
          if (!opts.type || !opts.name) throw new CliError('Expected a config id, or --type and --name');
          const found = await director.getJson<Array<ConfigRow & { content: string }>>('/configs', { type: opts.type, name: opts.name, latest: 'true' });
          if (found.length === 0) throw new CliError(`No config of type '${opts.type}' named '${opts.name}'`);
          config = found[0];
        }
        ctx.ui.printTable({
          content: '',
          header: ['ID', 'Type', 'Name', 'Created At', 'Content'],
          rows: [[String(config.id) + (config.current ? '*' : ''), config.type, config.name, config.created_at, config.content.trimEnd()]],
          transpose: true,
        });
      }),
    );

  addTemplateOptions(
    program
      .command('update-config <path>')
      .alias('uc')
      .description('create or update a config')
      .requiredOption('--type <type>', 'config type (cloud, runtime, cpi, ...)')
      .requiredOption('--name <name>', 'config name'),
  )
    .option('--expected-latest-id <id>', 'fail unless the current config has this id')
    .action(
      wrap(async (ctx, path: string, opts: TemplateOptions & { type: string; name: string; expectedLatestId?: string }) => {
        const content = await render(path, opts);
        const director = await ctx.director();
        const diff = await director.raw('POST', '/configs/diff', {
          body: JSON.stringify({ type: opts.type, name: opts.name, content }),
          contentType: 'application/json',
        });
        if (diff.status === 200) printDiff(ctx, (JSON.parse(diff.body.toString('utf8')) as { diff?: DiffLine[] }).diff ?? []);
        await ctx.confirm();
        const created = await director.sendJson<ConfigRow>('POST', '/configs', {
          type: opts.type,
          name: opts.name,
          content,
          ...(opts.expectedLatestId ? { expected_latest_id: opts.expectedLatestId } : {}),
        });
        if (created) ctx.ui.printLine(`Config '${created.type}/${created.name}' is version ${created.id}`);
      }),
    );

  program
    .command('delete-config [id]')
    .alias('dc')
    .description('delete a config by id, or by --type and --name')
    .option('--type <type>', 'config type')
    .option('--name <name>', 'config name')
    .action(
      wrap(async (ctx, id: string | undefined, opts: { type?: string; name?: string }) => {
        if (id === undefined && (!opts.type || !opts.name)) throw new CliError('Expected a config id, or --type and --name');
        const director = await ctx.director();
        await ctx.confirm();
        const res =
          id !== undefined
            ? await director.raw('DELETE', `/configs/${encodeURIComponent(id)}`)
            : await director.raw('DELETE', '/configs', { query: { type: opts.type, name: opts.name } });
        if (res.status === 404) ctx.ui.printLine('No configs to delete: no matches');
        else if (res.status >= 300) throw new CliError(`Director responded with non-successful status code '${res.status}' response '${res.body.toString('utf8')}'`);
      }),
    );

  program
    .command('diff-config')
    .description('diff two configs by id (or content files)')
    .option('--from-id <id>', 'id of the config to diff from')
    .option('--to-id <id>', 'id of the config to diff to')
    .option('--from-content <path>', 'file to diff from')
    .option('--to-content <path>', 'file to diff to')
    .action(
      wrap(async (ctx, opts: { fromId?: string; toId?: string; fromContent?: string; toContent?: string }) => {
        const side = (id?: string, path?: string) => {
          if (id && path) throw new CliError('Expected either an id or content for each side, not both');
          if (id) return { id };
          if (path) return { content: readInput(path) };
          throw new CliError('Expected --from-id or --from-content, and --to-id or --to-content');
        };
        const body = { from: side(opts.fromId, opts.fromContent), to: side(opts.toId, opts.toContent) };
        const director = await ctx.director();
        const res = await director.raw('POST', '/configs/diff', { body: JSON.stringify(body), contentType: 'application/json' });
        const text = res.body.toString('utf8');
        if (res.status === 404 && !text.includes('"code":440012')) return; // bosh: nothing to diff
        if (res.status !== 200) throw new CliError(`Director responded with non-successful status code '${res.status}' response '${text}'`);
        const parsed = JSON.parse(text) as { diff?: DiffLine[]; error?: string };
        if (parsed.error) throw new CliError(parsed.error);
        printDiff(ctx, parsed.diff ?? []);
      }),
    );
}

function printContent(ctx: CliContext, text: string): void {
  ctx.ui.printBlock(text.endsWith('\n') ? text : text + '\n');
}
