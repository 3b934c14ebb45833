// upload-stemcell, stemcells, delete-stemcell, stemcell build.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { parse } from 'yaml';
import { environmentPaths } from '../../environment/paths.js';
import { CliError } from '../context.js';
import { readTarEntry } from '../tarball-manifest.js';
import type { Wrap } from '../main.js';

interface StemcellRow {
  name: string;
  operating_system: string;
  version: string;
  cid: string;
  cpi?: string;
  deployments: Array<{ name: string }>;
}

export function registerStemcellCommands(program: Command, wrap: Wrap): void {
  program
    .command('upload-stemcell <path>')
    .description('upload a stemcell tarball')
    .option('--fix', 'replace the stemcell even if it was uploaded before')
    .action(
      wrap(async (ctx, path: string, opts: { fix?: boolean }) => {
        const tarball = resolve(path);
        if (!existsSync(tarball)) throw new CliError(`Stemcell '${path}' does not exist`);
        const mf = await readTarEntry(tarball, 'stemcell.MF');
        if (!mf) throw new CliError(`Invalid stemcell '${path}': stemcell.MF not found`);
        const { name, version } = parse(mf) as { name: string; version: string | number };
        const director = await ctx.director();
        if (!opts.fix) {
          const check = await director
            .sendJson<{ needed: boolean }>('POST', '/stemcell_uploads', { stemcell: { name, version: String(version) } })
            .catch(() => undefined); // an older director without the check: just upload
          if (check && check.needed === false) {
            ctx.ui.printLine(`Stemcell '${name}/${version}' already exists.`);
            return;
          }
        }
        await director.runTask(
          'POST',
          '/stemcells',
          { body: { file: tarball }, contentType: 'application/x-compressed', query: { fix: opts.fix ? 'true' : undefined } },
          ctx.taskReporter(),
        );
      }),
    );

  program
    .command('stemcells')
    .description('list stemcells')
    .action(
      wrap(async (ctx) => {
        const director = await ctx.director();
        const stemcells = await director.getJson<StemcellRow[]>('/stemcells');
        ctx.ui.printTable({
          content: 'stemcells',
          header: ['Name', 'Version', 'OS', 'CPI', 'CID'],
          rows: stemcells.map((s) => [s.name, s.version + (s.deployments.length ? '*' : ''), s.operating_system, s.cpi ?? '', s.cid]),
          notes: ['(*) Currently deployed'],
        });
      }),
    );

  program
    .command('delete-stemcell <name/version>')
    .description('delete a stemcell')
    .option('--force', 'ignore errors')
    .action(
      wrap(async (ctx, slug: string, opts: { force?: boolean }) => {
        const [name, version] = splitSlug(slug, 'stemcell');
        if (!version) throw new CliError(`Expected stemcell '${slug}' to be given as <name>/<version>`);
        const director = await ctx.director();
        await ctx.confirm();
        await director.runTask(
          'DELETE',
          `/stemcells/${encodeURIComponent(name)}/${encodeURIComponent(version)}`,
          { query: { force: opts.force ? 'true' : undefined } },
          ctx.taskReporter(),
        );
      }),
    );

  const stemcell = program.command('stemcell').description('stemcell tooling');
  stemcell
    .command('build')
    .description('build (or reuse from the cache) the default Docker stemcell; prints the tarball path')
    .option('--output <path>', 'copy the tarball here')
    .action(
      wrap(async (ctx, opts: { output?: string }) => {
        const { buildStemcell } = await import('../../stemcell/builder.js');
        const { buildAgentBundle } = await import('../../stemcell/agent-bundle.js');
        // Rebuilt every time (a second or two, deterministic): a stale bundle would ship an old agent.
        const agentBundlePath = await buildAgentBundle();
        const built = await buildStemcell({
          cacheDir: environmentPaths(ctx.home).cache,
          agentBundlePath,
          outputPath: opts.output ? resolve(opts.output) : undefined,
          progress: (line) => process.stderr.write(`${line}\n`),
        });
        process.stderr.write(`Stemcell '${built.name}/${built.version}'\n`);
        process.stdout.write(`${built.tarballPath}\n`);
      }),
    );
}

export function splitSlug(slug: string, what: string): [string, string | undefined] {
  const i = slug.indexOf('/');
  if (i === 0 || slug === '') throw new CliError(`Expected ${what} name in '${slug}'`);
  return i === -1 ? [slug, undefined] : [slug.slice(0, i), slug.slice(i + 1)];
}
