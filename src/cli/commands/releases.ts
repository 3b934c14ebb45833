// create-release, upload-release, releases, delete-release.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CliError } from '../context.js';
import type { DirectorClient } from '../director-client.js';
import type { Wrap } from '../main.js';
import type { ReleaseRow } from '../renderers/lists.js';
import { progressBar } from '../renderers/progress.js';
import { splitSlug } from './stemcells.js';

export function registerReleaseCommands(program: Command, wrap: Wrap): void {
  program
    .command('create-release')
    .description('create a dev release (and its tarball) from a release directory')
    .option('--dir <path>', 'release directory', '.')
    .option('--name <name>', 'release name (default: final_name / name from config/final.yml)')
    .option('--version <version>', 'release version (default: next 0+dev.N)')
    .option('--tarball [path]', 'write the release tarball (to path, when given)')
    .option('--force', 'overwrite an existing dev release version')
    .option('--timestamp-version', 'use a timestamp-based dev version')
    .action(
      wrap(async (ctx, opts: { dir: string; name?: string; version?: string; tarball?: string | boolean; force?: boolean; timestampVersion?: boolean }) => {
        const { createRelease } = await import('../../release/create.js');
        const created = await createRelease(resolve(opts.dir), {
          name: opts.name,
          version: opts.version,
          tarball: typeof opts.tarball === 'string' ? resolve(opts.tarball) : undefined,
          force: opts.force,
          timestamp_version: opts.timestampVersion,
        });
        const m = created.manifest;
        ctx.ui.printTable({
          content: '',
          header: ['Name', 'Version', 'Commit Hash', 'Manifest', 'Tarball'],
          rows: [[m.name, m.version, m.commit_hash + (m.uncommitted_changes ? '+' : ''), created.manifestPath, created.tarballPath]],
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
      }),
    );

  program
    .command('upload-release <path>')
    .description('upload a release tarball (a file, or a URL the director downloads)')
    .option('--fix', 'replace packages and jobs even if they were uploaded before')
    .option('--sha1 <digest>', 'digest of the tarball at the URL')
    .option('--name <name>', 'release name (with a URL: skip the upload when the director has it)')
    .option('--version <version>', 'release version (with a URL)')
    .action(
      wrap(async (ctx, path: string, opts: { fix?: boolean; sha1?: string; name?: string; version?: string }) => {
        if (/^https?:\/\//.test(path)) {
          const director = await ctx.director();
          if (!opts.fix && opts.name && opts.version && (await releaseUploaded(director, opts.name, opts.version))) {
            ctx.ui.printLine(`Release '${opts.name}/${opts.version}' already exists.`);
            return;
          }
          await director.runTask(
            'POST',
            '/releases',
            { body: JSON.stringify({ location: path, ...(opts.sha1 ? { sha1: opts.sha1 } : {}) }), contentType: 'application/json', query: { fix: opts.fix ? 'true' : undefined } },
            ctx.taskReporter(),
          );
          return;
        }
        const tarball = resolve(path);
        if (!existsSync(tarball)) throw new CliError(`Release '${path}' does not exist`);
        const { readTarEntry } = await import('../tarball-manifest.js');
        const { parse } = await import('yaml');
        const mf = await readTarEntry(tarball, 'release.MF');
        if (!mf) throw new CliError(`Invalid release '${path}': release.MF not found`);
        const { name, version } = parse(mf) as { name: string; version: string | number };
        const director = await ctx.director();
        if (!opts.fix && (await releaseUploaded(director, name, String(version)))) {
          ctx.ui.printLine(`Release '${name}/${version}' already exists.`);
          return;
        }
        await director.runTask(
          'POST',
          '/releases',
          {
            body: { file: tarball },
            contentType: 'application/x-compressed',
            query: { fix: opts.fix ? 'true' : undefined },
            progress: progressBar('Uploading release', !!ctx.options.json),
          },
          ctx.taskReporter(),
        );
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

/** A source release is uploaded when every package of that version has a blob (director-api §2.7). */
async function releaseUploaded(director: DirectorClient, name: string, version: string): Promise<boolean> {
  const res = await director.raw('GET', `/releases/${encodeURIComponent(name)}`, { query: { version } });
  if (res.status !== 200) return false;
  try {
    const release = JSON.parse(res.body.toString('utf8')) as { packages?: Array<{ blobstore_id?: string }> };
    return (release.packages ?? []).every((p) => !!p.blobstore_id);
  } catch {
    return false;
  }
}
