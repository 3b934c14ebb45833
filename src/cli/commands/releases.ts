// create-release, upload-release, releases, delete-release.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { parse } from 'yaml';
import { CliError } from '../context.js';
import type { DirectorClient } from '../director-client.js';
import { readTarEntry } from '../tarball-manifest.js';
import type { Wrap } from '../main.js';
import { splitSlug } from './stemcells.js';

interface ReleaseRow {
  name: string;
  release_versions: Array<{ version: string; commit_hash: string; uncommitted_changes: boolean; currently_deployed: boolean }>;
}

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
    .description('upload a release tarball')
    .option('--fix', 'replace packages and jobs even if they were uploaded before')
    .action(
      wrap(async (ctx, path: string, opts: { fix?: boolean }) => {
        const tarball = resolve(path);
        if (!existsSync(tarball)) throw new CliError(`Release '${path}' does not exist`);
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
          { body: { file: tarball }, contentType: 'application/x-compressed', query: { fix: opts.fix ? 'true' : undefined } },
          ctx.taskReporter(),
        );
      }),
    );

  program
    .command('releases')
    .description('list releases')
    .action(
      wrap(async (ctx) => {
        const director = await ctx.director();
        const releases = await director.getJson<ReleaseRow[]>('/releases');
        ctx.ui.printTable({
          content: 'releases',
          header: ['Name', 'Version', 'Commit Hash'],
          rows: releases.flatMap((r) =>
            r.release_versions.map((v) => [
              r.name,
              v.version + (v.currently_deployed ? '*' : ''),
              v.commit_hash + (v.uncommitted_changes ? '+' : ''),
            ]),
          ),
          notes: ['(*) Currently deployed', '(+) Uncommitted changes'],
        });
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
