// The release directory workflow (init-release, generate-job, generate-package, add-blob,
// blobs, remove-blob) and inspecting releases and stemcells (inspect-release on the director,
// inspect-local-release and inspect-local-stemcell on tarballs).
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import type { Wrap } from '../main.js';
import { splitSlug } from './stemcells.js';

interface DirFlag {
  dir: string;
}

const IDENTIFIER = /^[a-z0-9][-a-z0-9_.]*$/i;

function checkName(kind: string, name: string): void {
  if (!IDENTIFIER.test(name)) throw new CliError(`Expected ${kind} name '${name}' to contain only letters, digits, '-', '_' and '.'`);
}

function writeNew(path: string, content: string, mode?: number): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content, { mode });
}

function releaseDir(opts: DirFlag): string {
  const dir = resolve(opts.dir);
  if (!existsSync(join(dir, 'config'))) throw new CliError(`Expected '${dir}' to be a release directory (no config/; run 'capstan init-release')`);
  return dir;
}

const BLOB_INDEX = 'config/blobs.yml';

interface BlobEntry {
  size: number;
  sha: string;
  object_id?: string;
}

async function readBlobIndex(dir: string): Promise<Record<string, BlobEntry>> {
  const path = join(dir, BLOB_INDEX);
  if (!existsSync(path)) return {};
  const { parse } = await import('yaml');
  return ((parse(readFileSync(path, 'utf8')) as Record<string, BlobEntry> | null) ?? {}) as Record<string, BlobEntry>;
}

async function writeBlobIndex(dir: string, index: Record<string, BlobEntry>): Promise<void> {
  const { stringify } = await import('yaml');
  const sorted = Object.fromEntries(Object.keys(index).sort().map((k) => [k, index[k]]));
  writeFileSync(join(dir, BLOB_INDEX), Object.keys(sorted).length ? stringify(sorted, { indentSeq: false }) : '--- {}\n');
}

/** `git init` of a new release directory (bosh's init-release --git). */
async function gitInit(dir: string): Promise<void> {
  const { execFile } = await import('node:child_process');
  await new Promise<void>((done, fail) =>
    execFile('git', ['init', '--quiet', dir], (err, _stdout, stderr) => {
      if (!err) return done();
      const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'git is not installed' : stderr.trim() || err.message;
      fail(new CliError(`Initializing git repository in '${dir}': ${reason}`));
    }),
  );
}

export function registerReleaseDirCommands(program: Command, wrap: Wrap): void {
  program
    .command('init-release')
    .description('create a release directory (config/, jobs/, packages/, src/)')
    .option('--dir <path>', 'release directory', '.')
    .option('--git', 'also make it a git repository (git init) with a .gitignore for blobs and dev releases')
    .action(
      wrap(async (ctx, opts: DirFlag & { git?: boolean }) => {
        const dir = resolve(opts.dir);
        if (existsSync(join(dir, 'config/final.yml'))) throw new CliError(`Release directory '${dir}' is already initialized`);
        const name = basename(dir).replace(/-release$/, '');
        for (const sub of ['jobs', 'packages', 'src', 'blobs']) mkdirSync(join(dir, sub), { recursive: true });
        writeNew(join(dir, 'config/final.yml'), `---\nname: ${name}\nblobstore:\n  provider: local\n  options:\n    blobstore_path: /tmp/${name}-blobs\n`);
        writeNew(join(dir, BLOB_INDEX), '--- {}\n');
        if (opts.git) {
          await gitInit(dir);
          writeNew(join(dir, '.gitignore'), ['config/dev.yml', 'config/private.yml', 'releases/*.tgz', 'releases/**/*.tgz', 'dev_releases', '.blobs', 'blobs', '.dev_builds', '.idea', '.DS_Store', '.final_builds/jobs/**/*.tgz', '.final_builds/packages/**/*.tgz', '*.swp', '*~', '*#', '#*', ''].join('\n'));
        }
        ctx.ui.printLine(`Initialized release '${name}' in '${dir}'`);
      }),
    );

  program
    .command('generate-job <name>')
    .description('add a job skeleton (spec, monit, templates/)')
    .option('--dir <path>', 'release directory', '.')
    .action(
      wrap(async (ctx, name: string, opts: DirFlag) => {
        checkName('job', name);
        const jobDir = join(releaseDir(opts), 'jobs', name);
        if (existsSync(jobDir)) throw new CliError(`Job '${name}' already exists`);
        mkdirSync(join(jobDir, 'templates'), { recursive: true });
        writeNew(join(jobDir, 'spec'), `---\nname: ${name}\n\ntemplates: {}\n\npackages: []\n\nproperties: {}\n`);
        writeNew(join(jobDir, 'monit'), '');
        ctx.ui.printLine(`Generated job '${name}' in '${jobDir}'`);
      }),
    );

  program
    .command('generate-package <name>')
    .description('add a package skeleton (spec, packaging)')
    .option('--dir <path>', 'release directory', '.')
    .action(
      wrap(async (ctx, name: string, opts: DirFlag) => {
        checkName('package', name);
        const pkgDir = join(releaseDir(opts), 'packages', name);
        if (existsSync(pkgDir)) throw new CliError(`Package '${name}' already exists`);
        writeNew(join(pkgDir, 'spec'), `---\nname: ${name}\n\ndependencies: []\n\nfiles: []\n`);
        writeNew(
          join(pkgDir, 'packaging'),
          [
            'set -e # stop at the first failing command',
            'set -u # unset variables are errors',
            '',
            '# $BOSH_COMPILE_TARGET: the directory holding the files listed in spec (the current directory)',
            '# $BOSH_INSTALL_TARGET: install what the package provides here (/var/vcap/packages/<name> on VMs)',
            '',
          ].join('\n'),
        );
        ctx.ui.printLine(`Generated package '${name}' in '${pkgDir}'`);
      }),
    );

  program
    .command('add-blob <path> <blobs-path>')
    .description('copy a file into blobs/ and record it in config/blobs.yml')
    .option('--dir <path>', 'release directory', '.')
    .action(
      wrap(async (ctx, source: string, blobPath: string, opts: DirFlag) => {
        const dir = releaseDir(opts);
        if (!existsSync(source) || !statSync(source).isFile()) throw new CliError(`Expected blob '${source}' to be a file`);
        if (blobPath.startsWith('/') || blobPath.split('/').includes('..')) throw new CliError(`Expected blobs path '${blobPath}' to stay inside blobs/`);
        const { fileDigest } = await import('../../common/digest.js');
        const target = join(dir, 'blobs', blobPath);
        mkdirSync(dirname(target), { recursive: true });
        copyFileSync(source, target);
        const index = await readBlobIndex(dir);
        index[blobPath] = { size: statSync(target).size, sha: `sha256:${await fileDigest(target, 'sha256')}` };
        await writeBlobIndex(dir, index);
        ctx.ui.printLine(`Added blob '${blobPath}'`);
      }),
    );

  program
    .command('remove-blob <blobs-path>')
    .description('forget a blob (config/blobs.yml and blobs/)')
    .option('--dir <path>', 'release directory', '.')
    .action(
      wrap(async (ctx, blobPath: string, opts: DirFlag) => {
        const dir = releaseDir(opts);
        const index = await readBlobIndex(dir);
        if (!index[blobPath]) throw new CliError(`Expected blob '${blobPath}' to be in ${BLOB_INDEX}`);
        delete index[blobPath];
        await writeBlobIndex(dir, index);
        rmSync(join(dir, 'blobs', blobPath), { force: true });
        ctx.ui.printLine(`Removed blob '${blobPath}'`);
      }),
    );

  program
    .command('blobs')
    .description('list the blobs of config/blobs.yml')
    .option('--dir <path>', 'release directory', '.')
    .action(
      wrap(async (ctx, opts: DirFlag) => {
        const index = await readBlobIndex(releaseDir(opts));
        ctx.ui.printTable({
          content: 'blobs',
          header: ['Path', 'Size', 'Blobstore ID', 'Digest'],
          sortBy: [0],
          rows: Object.entries(index).map(([path, e]) => [path, iBytes(Number(e.size)), e.object_id ?? '(local)', e.sha ?? '']),
        });
      }),
    );

  program
    .command('upload-blobs')
    .description('upload the blobs of config/blobs.yml that have no blobstore id yet (config/final.yml + private.yml)')
    .option('--dir <path>', 'release directory', '.')
    .action(
      wrap(async (ctx, opts: DirFlag) => {
        const dir = releaseDir(opts);
        const store = await releaseBlobstore(dir);
        const index = await readBlobIndex(dir);
        for (const [path, entry] of Object.entries(index).sort(([a], [b]) => (a < b ? -1 : 1))) {
          if (entry.object_id) continue;
          const file = join(dir, 'blobs', path);
          if (!existsSync(file)) throw new CliError(`Expected blob '${path}' to be in blobs/ (add it with 'capstan add-blob')`);
          entry.object_id = await store.put(file);
          await writeBlobIndex(dir, index); // after each blob: an interrupted run keeps what it uploaded
          ctx.ui.printLine(`Blob upload '${path}' (${iBytes(entry.size)}): ${entry.object_id}`);
        }
      }),
    );

  program
    .command('sync-blobs')
    .description('download the blobs of config/blobs.yml that blobs/ lacks (or holds with another digest)')
    .option('--dir <path>', 'release directory', '.')
    .action(
      wrap(async (ctx, opts: DirFlag) => {
        const dir = releaseDir(opts);
        const index = await readBlobIndex(dir);
        const { verifyFileDigest } = await import('../../common/digest.js');
        let store: import('../../blobstore/blobstore.js').Blobstore | undefined;
        for (const [path, entry] of Object.entries(index).sort(([a], [b]) => (a < b ? -1 : 1))) {
          const file = join(dir, 'blobs', path);
          if (existsSync(file) && (await verifyFileDigest(file, entry.sha).then(() => true, () => false))) continue;
          if (!entry.object_id) throw new CliError(`Expected blob '${path}' to be uploaded (no object_id in ${BLOB_INDEX}) or present in blobs/`);
          store ??= await releaseBlobstore(dir);
          mkdirSync(dirname(file), { recursive: true });
          await store.get(entry.object_id, file);
          await verifyFileDigest(file, entry.sha).catch((err: Error) => {
            rmSync(file, { force: true });
            throw new CliError(`Blob '${path}' from the blobstore does not match ${BLOB_INDEX}: ${err.message}`);
          });
          ctx.ui.printLine(`Blob download '${path}' (${iBytes(entry.size)}): ${entry.object_id}`);
        }
      }),
    );

  program
    .command('inspect-release <name/version>')
    .description("show a release's jobs and packages as the director has them")
    .action(wrap(async (ctx, slug: string) => inspectRelease(ctx, slug)));

  program
    .command('inspect-local-release <path>')
    .description("show a release tarball's jobs and packages")
    .action(
      wrap(async (ctx, path: string) => {
        const { readTarEntry } = await import('../tarball-manifest.js');
        const { parse } = await import('yaml');
        const mf = await readTarEntry(resolve(path), 'release.MF').catch(() => undefined);
        if (!mf) throw new CliError(`Expected '${path}' to be a release tarball (no release.MF)`);
        const m = parse(mf) as {
          name: string;
          version: string;
          commit_hash?: string;
          uncommitted_changes?: boolean;
          jobs?: Array<{ name: string; fingerprint: string; sha1: string; packages?: string[] }>;
          packages?: Array<{ name: string; fingerprint: string; sha1: string; dependencies?: string[] }>;
          compiled_packages?: Array<{ name: string; fingerprint: string; sha1: string; stemcell: string; dependencies?: string[] }>;
          license?: { fingerprint: string; sha1: string };
        };
        ctx.ui.printTable({
          content: '',
          header: ['Name', 'Version', 'Commit Hash'],
          rows: [[m.name, String(m.version), (m.commit_hash ?? '') + (m.uncommitted_changes ? '+' : '')]],
          transpose: true,
        });
        ctx.ui.printTable({
          content: 'jobs',
          header: ['Job', 'Digest', 'Packages'],
          sortBy: [0],
          rows: (m.jobs ?? []).map((j) => [`${j.name}/${j.fingerprint}`, String(j.sha1), j.packages ?? []]),
        });
        const compiled = m.compiled_packages ?? [];
        ctx.ui.printTable({
          content: 'packages',
          header: compiled.length ? ['Package', 'Compiled for', 'Digest', 'Dependencies'] : ['Package', 'Digest', 'Dependencies'],
          sortBy: [0],
          rows: compiled.length
            ? compiled.map((p) => [`${p.name}/${p.fingerprint}`, p.stemcell, String(p.sha1), p.dependencies ?? []])
            : (m.packages ?? []).map((p) => [`${p.name}/${p.fingerprint}`, String(p.sha1), p.dependencies ?? []]),
        });
        if (m.license) ctx.ui.printLine(`License: ${m.license.fingerprint} (${m.license.sha1})`);
      }),
    );

  program
    .command('inspect-local-stemcell <path>')
    .description("show a stemcell tarball's stemcell.MF")
    .action(
      wrap(async (ctx, path: string) => {
        const { readTarEntry } = await import('../tarball-manifest.js');
        const { parse } = await import('yaml');
        const { fileDigest } = await import('../../common/digest.js');
        const tarball = resolve(path);
        const mf = await readTarEntry(tarball, 'stemcell.MF').catch(() => undefined);
        if (!mf) throw new CliError(`Expected '${path}' to be a stemcell tarball (no stemcell.MF)`);
        const m = parse(mf) as { name: string; version: string | number; operating_system: string; api_version?: number; stemcell_formats?: string[]; cloud_properties?: Record<string, unknown> };
        ctx.ui.printTable({
          content: '',
          header: ['Name', 'OS', 'Version', 'SHA1', 'Stemcell Formats', 'API Version'],
          rows: [[m.name, m.operating_system, String(m.version), await fileDigest(tarball, 'sha1'), m.stemcell_formats ?? [], m.api_version === undefined ? '' : String(m.api_version)]],
          transpose: true,
        });
      }),
    );
}

/** The release's blobstore: config/final.yml + private.yml (src/release/blobstore.ts). */
async function releaseBlobstore(dir: string): Promise<import('../../blobstore/blobstore.js').Blobstore> {
  const { releaseBlobstore: open } = await import('../../release/blobstore.js');
  return open(dir);
}

interface DirectorRelease {
  jobs: Array<{ name: string; blobstore_id: string; sha1: string; fingerprint: string; consumes?: unknown[]; provides?: unknown[] }>;
  packages: Array<{ name: string; blobstore_id: string; sha1: string; fingerprint: string; compiled_packages?: Array<{ stemcell: string; sha1: string; blobstore_id: string }> }>;
}

async function inspectRelease(ctx: CliContext, slug: string): Promise<void> {
  const [name, version] = splitSlug(slug, 'release');
  if (!version) throw new CliError(`Expected release '${slug}' to be given as <name>/<version>`);
  const director = await ctx.director();
  const release = await director.getJson<DirectorRelease>(`/releases/${encodeURIComponent(name)}`, { version });
  const linkNames = (links: unknown[] | undefined) => (links ?? []).map((l) => (l && typeof l === 'object' && 'name' in l ? String((l as { name: unknown }).name) : String(l)));
  ctx.ui.printTable({
    content: 'jobs',
    header: ['Job', 'Blobstore ID', 'Digest', 'Links Consumed', 'Links Provided'],
    sortBy: [0],
    rows: release.jobs.map((j) => [`${j.name}/${j.fingerprint}`, j.blobstore_id, j.sha1, linkNames(j.consumes), linkNames(j.provides)]),
  });
  const rows: string[][] = [];
  for (const p of release.packages) {
    if (p.blobstore_id) rows.push([`${p.name}/${p.fingerprint}`, '(source)', p.blobstore_id, p.sha1]);
    for (const c of p.compiled_packages ?? []) rows.push([`${p.name}/${p.fingerprint}`, c.stemcell, c.blobstore_id, c.sha1]);
  }
  ctx.ui.printTable({ content: 'packages', header: ['Package', 'Compiled for', 'Blobstore ID', 'Digest'], sortBy: [0, 1], rows });
}

/** Binary sizes as go-humanize's IBytes prints them: `1.1 MiB`, `512 B`. */
export function iBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '';
  if (bytes < 10) return `${bytes} B`;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  const e = Math.min(Math.floor(Math.log(bytes) / Math.log(1024)), units.length - 1);
  const value = Math.floor((bytes / 1024 ** e) * 10 + 0.5) / 10;
  return `${value < 10 ? value.toFixed(1) : value.toFixed(0)} ${units[e]}`;
}
