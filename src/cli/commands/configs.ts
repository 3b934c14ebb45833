// Configs (director-api §2.9): the typed cloud/runtime/cpi-config commands on the legacy
// endpoints the bosh CLI uses, and the generic configs/config/update-config/delete-config/diff-config.
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import type { DirectorClient, RequestOptions } from '../director-client.js';
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
    if (t.type === 'runtime') update.option('--fix-releases', 'upload the releases with a url again, replacing corrupt or missing jobs and packages');
    addTemplateOptions(update)
      .option('--no-redact', 'show secrets in the diff')
      .action(
        wrap(async (ctx, path: string, opts: TemplateOptions & NameFlag & { redact?: boolean; fixReleases?: boolean }) => {
          let content = await render(path, opts);
          const director = await ctx.director();
          if (t.type === 'runtime') {
            // as bosh v7: the runtime config's releases with a `url` are uploaded before the diff
            const { uploadManifestReleases } = await import('../release-uploads.js');
            content = await uploadManifestReleases(ctx, director, content, !!opts.fixReleases);
          }
          const name = t.named && opts.name !== 'default' ? opts.name : undefined;
          const { diff, error } = await fetchConfigDiff(director, `${t.path}/diff`, {
            body: content,
            contentType: 'text/yaml',
            query: { name, redact: opts.redact === false ? 'false' : undefined },
          });
          // the diff is advice (as for deploy): a director that could not compute it does not stop the update
          if (error) ctx.ui.errorLine(`Warning: no ${t.type} config diff: ${error}`);
          printDiff(ctx, diff);
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
        let config: ShownConfig;
        if (id !== undefined) {
          if (opts.type || opts.name) throw new CliError('Expected either a config id or --type and --name, not both');
          config = await director.getJson(`/configs/${encodeURIComponent(id)}`);
        } else {
          if (!opts.type || !opts.name) throw new CliError('Expected a config id, or --type and --name');
          const found = await director.getJson<ShownConfig[]>('/configs', { type: opts.type, name: opts.name, latest: 'true' });
          if (found.length === 0) throw new CliError(`No config of type '${opts.type}' named '${opts.name}'`);
          config = found[0];
        }
        printConfig(ctx, config);
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
        const { diff, fromId, error } = await fetchConfigDiff(director, '/configs/diff', {
          body: JSON.stringify({ type: opts.type, name: opts.name, content }),
          contentType: 'application/json',
        });
        if (error) ctx.ui.errorLine(`Warning: no config diff: ${error}`);
        printDiff(ctx, diff);
        await ctx.confirm();
        // as bosh: the version the diff was computed against must still be the latest one
        const expectedLatestId = opts.expectedLatestId || fromId;
        const res = await director.raw('POST', '/configs', {
          body: JSON.stringify({ type: opts.type, name: opts.name, content, ...(expectedLatestId ? { expected_latest_id: expectedLatestId } : {}) }),
          contentType: 'application/json',
        });
        const text = res.body.toString('utf8');
        if (res.status === 412) throw new CliError(concurrentUpdateMessage(text));
        if (res.status !== 200 && res.status !== 201) throw new CliError(`Updating config: Director responded with non-successful status code '${res.status}' response '${text}'`);
        printConfig(ctx, JSON.parse(text) as ShownConfig);
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
        // bosh checks the `to` side first
        const to = diffSide('to', opts.toId, opts.toContent);
        const from = diffSide('from', opts.fromId, opts.fromContent);
        const director = await ctx.director();
        const { diff, error } = await fetchConfigDiff(director, '/configs/diff', { body: JSON.stringify({ from, to }), contentType: 'application/json' });
        if (error) throw new CliError(`Fetching diff result: ${error}`);
        printDiff(ctx, diff);
      }),
    );
}

/** One side of diff-config: a stored version by id, or the content of a file. */
function diffSide(side: 'from' | 'to', id: string | undefined, path: string | undefined): { id: string } | { content: string } {
  if (id && path) throw new CliError(`only one of --${side}-id and --${side}-content can be specified`);
  if (!id && !path) throw new CliError(`one of --${side}-id or --${side}-content must be specified`);
  if (id && !/^\d+$/.test(id)) throw new CliError(`--${side}-id needs to be an integer.`);
  return id ? { id } : { content: readInput(path!) };
}

interface ConfigDiff {
  diff: DiffLine[];
  /** The current version the diff was computed against (`/configs/diff` with type and name). */
  fromId?: string;
  /** The director answered but could not compute the diff. */
  error?: string;
}

/**
 * A diff from one of the config diff routes, read as the bosh CLI reads it: a 404 naming a missing
 * config (code 440012) is an error, any other 404 is a director without the route (no diff).
 */
async function fetchConfigDiff(director: DirectorClient, path: string, options: RequestOptions): Promise<ConfigDiff> {
  const res = await director.raw('POST', path, options);
  const text = res.body.toString('utf8');
  if (res.status === 404) {
    if (text.includes('"code":440012')) throw new CliError(directorMessage(text) ?? text);
    return { diff: [] };
  }
  if (res.status !== 200) {
    throw new CliError(`Fetching diff result: ${directorMessage(text) ?? `Director responded with non-successful status code '${res.status}' response '${text}'`}`);
  }
  const body = JSON.parse(text) as { diff?: DiffLine[]; from?: { id?: string }; error?: string };
  return { diff: body.diff ?? [], fromId: body.from?.id, error: body.error };
}

/** The message of a director error body: `{code, description}`, or a diff route's `{diff: [], error}`. */
function directorMessage(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as { description?: unknown; error?: unknown };
    if (typeof body.error === 'string') return body.error;
    if (typeof body.description === 'string') return body.description;
  } catch {
    // not JSON: the caller shows the raw body
  }
  return undefined;
}

/** bosh's text for a 412 `{latest_id, expected_latest_id}`: someone else updated the config meanwhile. */
function concurrentUpdateMessage(text: string): string {
  let body: { latest_id?: string | null; expected_latest_id?: string } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // the message below still says what happened
  }
  return (
    `Config update rejected: The expected latest ID '${body.expected_latest_id ?? ''}' doesn't match the latest ID '${body.latest_id ?? ''}'. ` +
    'This most likely means that a concurrent update of the config happened. Please try to upload again.'
  );
}

type ShownConfig = ConfigRow & { content: string };

/** The config table of `config` and `update-config`, one field per line as bosh prints it. */
function printConfig(ctx: CliContext, config: ShownConfig): void {
  ctx.ui.printTable({
    content: '',
    header: ['ID', 'Type', 'Name', 'Created At', 'Content'],
    rows: [[String(config.id) + (config.current ? '*' : ''), config.type, config.name, config.created_at, config.content.trimEnd()]],
    transpose: true,
  });
}

function printContent(ctx: CliContext, text: string): void {
  ctx.ui.printBlock(text.endsWith('\n') ? text : text + '\n');
}
