// create-release, upload-release, releases, delete-release.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import type { ReleaseManifest } from '../../release/types.js';
import type { Wrap } from '../main.js';
import type { ReleaseRow } from '../renderers/lists.js';
import { progressBar } from '../renderers/progress.js';
import { splitSlug } from './stemcells.js';

export function registerReleaseCommands(program: Command, wrap: Wrap): void {
  program
    .command('create-release')
    .description('create a dev or final release (and its tarball) from a release directory')
    .option('--dir <path>', 'release directory', '.')
    .option('--name <name>', 'release name (default: final_name / name from config/final.yml)')
    .option('--version <version>', 'release version (default: next 0+dev.N, or next final version with --final)')
    .option('--final', 'make a final release: upload new jobs and packages to the release blobstore, record it in releases/')
    .option('--tarball [path]', 'write the release tarball (to path, when given)')
    .option('--force', 'build even with uncommitted changes in git; overwrite an existing dev release version')
    .option('--timestamp-version', 'use a timestamp-based dev version')
    .action(
      wrap(async (ctx, opts: { dir: string; name?: string; version?: string; final?: boolean; tarball?: string | boolean; force?: boolean; timestampVersion?: boolean }) => {
        const { createRelease } = await import('../../release/create.js');
        const created = await createRelease(resolve(opts.dir), {
          name: opts.name,
          version: opts.version,
          tarball: typeof opts.tarball === 'string' ? resolve(opts.tarball) : undefined,
          force: opts.force,
          timestamp_version: opts.timestampVersion,
          final: opts.final,
        });
        printReleaseTables(ctx, created.manifest, created.manifestPath, created.tarballPath);
      }),
    );

  program
    .command('finalize-release <tarball>')
    .description('make a dev release tarball a final release of the release directory')
    .option('--dir <path>', 'release directory', '.')
    .option('--name <name>', 'release name (default: the tarball\'s)')
    .option('--version <version>', 'release version (default: the next final version)')
    .option('--force', 'finalize even with uncommitted changes in git')
    .action(
      wrap(async (ctx, tarball: string, opts: { dir: string; name?: string; version?: string; force?: boolean }) => {
        if (!existsSync(tarball)) throw new CliError(`Release '${tarball}' does not exist`);
        const { finalizeRelease } = await import('../../release/finalize.js');
        const finalized = await finalizeRelease(resolve(tarball), resolve(opts.dir), { name: opts.name, version: opts.version, force: opts.force });
        printReleaseTables(ctx, finalized.manifest, finalized.manifestPath);
      }),
    );

  program
    .command('upload-release <path>')
    .description('upload a release tarball (a file or file:// URL, or an http(s) URL the director downloads)')
    .option('--fix', 'replace packages and jobs even if they were uploaded before')
    .option('--sha1 <digest>', 'digest of the tarball at the URL')
    .option('--name <name>', 'release name (with a URL: skip the upload when the director has it)')
    .option('--version <version>', 'release version (with a URL)')
    .action(
      wrap(async (ctx, path: string, opts: { fix?: boolean; sha1?: string; name?: string; version?: string }) => {
        const { localPath, uploadReleaseFile, uploadReleaseUrl } = await import('../release-uploads.js');
        const director = await ctx.director();
        if (/^https?:\/\//.test(path)) await uploadReleaseUrl(ctx, director, path, opts);
        else await uploadReleaseFile(ctx, director, path.startsWith('file://') ? localPath(path, 'release') : path, !!opts.fix);
      }),
    );

  program
    .command('releases')
    .alias('rs')
    .description('list releases')
    .action(
      wrap(async (ctx) => {
        const director = await ctx.director();
        const releases = await director.getJson<ReleaseRow[]>('/releases');
        const { releasesTable } = await import('../renderers/lists.js');
        ctx.ui.printTable(releasesTable(releases));
      }),
    );

  program
    .command('export-release <name/version> <os/version>')
    .description("export a release compiled for a stemcell (from the deployment's compiled packages)")
    .option('--dir <path>', 'directory to save the tarball in', '.')
    .option('--job <name>', 'only this job (repeatable)', (v: string, prev: string[] = []) => [...prev, v], [])
    .action(
      wrap(async (ctx, releaseSlug: string, stemcellSlug: string, opts: { dir: string; job: string[] }) => {
        const [name, version] = splitSlug(releaseSlug, 'release');
        const [os, stemcellVersion] = splitSlug(stemcellSlug, 'stemcell');
        if (!version || !stemcellVersion) throw new CliError('Expected <release name>/<version> and <stemcell os>/<version>');
        const director = await ctx.director();
        const deployment = ctx.deployment();
        const task = await director.runTask(
          'POST',
          '/releases/export',
          {
            body: JSON.stringify({
              deployment_name: deployment,
              release_name: name,
              release_version: version,
              stemcell_os: os,
              stemcell_version: stemcellVersion,
              sha2: true,
              jobs: opts.job.map((j) => ({ name: j })),
            }),
            contentType: 'application/json',
          },
          ctx.taskReporter(),
        );
        const result = JSON.parse((await director.taskOutput(task.id, 'result')).split('\n')[0] || '{}') as { blobstore_id?: string; sha1?: string };
        if (!result.blobstore_id) throw new CliError(`Expected task '${task.id}' to name the exported release blob`);
        const { mkdirSync } = await import('node:fs');
        mkdirSync(opts.dir, { recursive: true });
        const path = resolve(opts.dir, `${name}-${version}-${os}-${stemcellVersion}.tgz`);
        ctx.ui.printLine(`Downloading resource '${result.blobstore_id}' to '${path}'...`);
        await director.download(`/resources/${encodeURIComponent(result.blobstore_id)}`, path, progressBar('Downloading release', !!ctx.options.json));
        if (result.sha1) {
          const { verifyFileDigest } = await import('../../common/digest.js');
          await verifyFileDigest(path, result.sha1).catch((err: Error) => {
            throw new CliError(`Exported release '${path}' does not match its digest: ${err.message}`);
          });
        }
      }),
    );

  program
    .command('delete-release <name[/version]>')
    .description('delete a release version (or every version of it)')
    .option('--force', 'ignore errors')
    .action(
      wrap(async (ctx, slug: string, opts: { force?: boolean }) => {
        const [name, version] = splitSlug(slug, 'release');
        const director = await ctx.director();
        await ctx.confirm();
        await director.runTask(
          'DELETE',
          `/releases/${encodeURIComponent(name)}`,
          { query: { version, force: opts.force ? 'true' : undefined } },
          ctx.taskReporter(),
        );
      }),
    );
}

/** bosh's create-release output: the release (transposed), then its jobs and packages. */
function printReleaseTables(ctx: CliContext, m: ReleaseManifest, manifestPath: string, tarballPath?: string): void {
  ctx.ui.printTable({
    content: '',
    header: ['Name', 'Version', 'Commit Hash', 'Manifest', ...(tarballPath ? ['Tarball'] : [])],
    rows: [[m.name, m.version, m.commit_hash + (m.uncommitted_changes ? '+' : ''), manifestPath, ...(tarballPath ? [tarballPath] : [])]],
    transpose: true,
  });
  ctx.ui.printTable({
    content: 'jobs',
    header: ['Job', 'Digest'],
    rows: m.jobs.map((j) => [`${j.name}/${j.fingerprint}`, j.sha1]),
  });
  ctx.ui.printTable({
    content: 'packages',
    header: ['Package', 'Digest', 'Dependencies'],
    rows: m.packages.map((p) => [`${p.name}/${p.fingerprint}`, p.sha1, p.dependencies ?? []]),
  });
}
