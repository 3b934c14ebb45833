// upload-stemcell, stemcells, delete-stemcell, stemcell build.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CliError } from '../context.js';
import type { Wrap } from '../main.js';
import type { StemcellRow } from '../renderers/lists.js';
import { progressBar } from '../renderers/progress.js';

export function registerStemcellCommands(program: Command, wrap: Wrap): void {
  program
    .command('upload-stemcell <path>')
    .description('upload a stemcell tarball (a file or file:// URL, or an http(s) URL the director downloads)')
    .option('--fix', 'replace the stemcell even if it was uploaded before')
    .option('--sha1 <digest>', 'digest of the tarball at the URL')
    .option('--name <name>', 'stemcell name (with a URL: skip the upload when the director has it)')
    .option('--version <version>', 'stemcell version (with a URL)')
    .action(
      wrap(async (ctx, path: string, opts: { fix?: boolean; sha1?: string; name?: string; version?: string }) => {
        if (/^https?:\/\//.test(path)) {
          const director = await ctx.director();
          if (!opts.fix && opts.name && opts.version) {
            const check = await director
              .sendJson<{ needed: boolean }>('POST', '/stemcell_uploads', { stemcell: { name: opts.name, version: opts.version } })
              .catch(() => undefined);
            if (check && check.needed === false) {
              ctx.ui.printLine(`Stemcell '${opts.name}/${opts.version}' already exists.`);
              return;
            }
          }
          await director.runTask(
            'POST',
            '/stemcells',
            { body: JSON.stringify({ location: path, ...(opts.sha1 ? { sha1: opts.sha1 } : {}) }), contentType: 'application/json', query: { fix: opts.fix ? 'true' : undefined } },
            ctx.taskReporter(),
          );
          return;
        }
        const { localPath } = await import('../release-uploads.js');
        const tarball = resolve(path.startsWith('file://') ? localPath(path, 'stemcell') : path);
        if (!existsSync(tarball)) throw new CliError(`Stemcell '${path}' does not exist`);
        const { readTarEntry } = await import('../tarball-manifest.js');
        const { parse } = await import('yaml');
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
          {
            body: { file: tarball },
            contentType: 'application/x-compressed',
            query: { fix: opts.fix ? 'true' : undefined },
            progress: progressBar('Uploading stemcell', !!ctx.options.json),
          },
          ctx.taskReporter(),
        );
      }),
    );

  program
    .command('stemcells')
    .alias('ss')
    .description('list stemcells')
    .action(
      wrap(async (ctx) => {
        const director = await ctx.director();
        const stemcells = await director.getJson<StemcellRow[]>('/stemcells');
        const { stemcellsTable } = await import('../renderers/lists.js');
        ctx.ui.printTable(stemcellsTable(stemcells));
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

  program
    .command('repack-stemcell <source> <destination>')
    .description('write a copy of a stemcell tarball with another name, version, cloud properties or formats')
    .option('--name <name>', 'new stemcell name')
    .option('--version <version>', 'new stemcell version')
    .option('--cloud-properties <yaml>', 'cloud properties to merge into stemcell.MF (YAML or JSON hash)')
    .option('--empty-image', 'replace the image with an empty file (for CPIs that find the image elsewhere)')
    .option('--format <format>', 'stemcell format (repeatable)', (v: string, prev: string[] = []) => [...prev, v], [])
    .action(
      wrap(async (ctx, source: string, destination: string, opts: RepackFlags) => {
        const { mkdtempSync, rmSync, readFileSync, writeFileSync } = await import('node:fs');
        const { tmpdir } = await import('node:os');
        const { join } = await import('node:path');
        const { parse, stringify } = await import('yaml');
        const { safeExtract, createTgz } = await import('../../common/tar.js');
        const { fileDigest } = await import('../../common/digest.js');
        if (!existsSync(source)) throw new CliError(`Stemcell '${source}' does not exist`);
        const work = mkdtempSync(join(tmpdir(), 'capstan-repack-'));
        try {
          await safeExtract(resolve(source), work);
          const mfPath = join(work, 'stemcell.MF');
          if (!existsSync(mfPath)) throw new CliError(`Invalid stemcell '${source}': stemcell.MF not found`);
          const mf = (parse(readFileSync(mfPath, 'utf8')) ?? {}) as Record<string, unknown>;
          if (opts.name) mf.name = opts.name;
          if (opts.version) mf.version = opts.version;
          if (opts.format.length) mf.stemcell_formats = opts.format;
          if (opts.cloudProperties) {
            const extra = parse(opts.cloudProperties) as unknown;
            if (!extra || typeof extra !== 'object' || Array.isArray(extra)) throw new CliError('Expected --cloud-properties to be a YAML or JSON hash');
            mf.cloud_properties = { ...(mf.cloud_properties as Record<string, unknown> | undefined), ...extra };
          }
          if (opts.emptyImage) {
            writeFileSync(join(work, 'image'), '');
            mf.sha1 = await fileDigest(join(work, 'image'), 'sha1');
          }
          writeFileSync(mfPath, stringify(mf, { indentSeq: false }));
          await createTgz(work, resolve(destination));
          ctx.ui.printLine(`Repacked stemcell '${mf.name}/${mf.version}' into '${resolve(destination)}'`);
        } finally {
          rmSync(work, { recursive: true, force: true });
        }
      }),
    );

  const stemcell = program.command('stemcell').description('stemcell tooling');
  stemcell
    .command('build')
    .description('build (or reuse from the cache) the default Docker stemcell; prints the tarball path')
    .option('--output <path>', 'copy the tarball here')
    .option('--os <os>', 'operating system: debian-bookworm (default) or debian-trixie')
    .option('--version <version>', 'stemcell version (default: 1.<content hash>)')
    .action(
      wrap(async (ctx, opts: { output?: string; os?: string; version?: string }) => {
        const { environmentPaths } = await import('../../environment/paths.js');
        const { buildStemcell } = await import('../../stemcell/builder.js');
        const { buildAgentBundle } = await import('../../stemcell/agent-bundle.js');
        // Rebuilt every time (a second or two, deterministic): a stale bundle would ship an old agent.
        const agentBundlePath = await buildAgentBundle();
        const built = await buildStemcell({
          cacheDir: environmentPaths(ctx.home).cache,
          agentBundlePath,
          outputPath: opts.output ? resolve(opts.output) : undefined,
          os: opts.os,
          version: opts.version,
          progress: (line) => process.stderr.write(`${line}\n`),
        });
        process.stderr.write(`Stemcell '${built.name}/${built.version}'\n`);
        process.stdout.write(`${built.tarballPath}\n`);
      }),
    );
}

interface RepackFlags {
  name?: string;
  version?: string;
  cloudProperties?: string;
  emptyImage?: boolean;
  format: string[];
}

export function splitSlug(slug: string, what: string): [string, string | undefined] {
  const i = slug.indexOf('/');
  if (i === 0 || slug === '') throw new CliError(`Expected ${what} name in '${slug}'`);
  return i === -1 ? [slug, undefined] : [slug.slice(0, i), slug.slice(i + 1)];
}
