// `capstan create-release`: a release directory (jobs/, packages/, src/, blobs/, config/) -> a dev
// release: job and package archives, release.MF, the release tarball and dev_releases/<name>/ records.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createTgz, listTree } from '../common/tar.js';
import { fileDigest, verifyFileDigest } from '../common/digest.js';
import { parseYaml, stringifyYaml } from '../common/yaml.js';
import { errorMessage } from '../common/errors.js';
import { ReleaseError, checkIdentifier } from './errors.js';
import { matchGlobs } from './glob.js';
import { fingerprint, under, type FingerprintFile } from './fingerprint.js';
import { parseJobSpec, parsePackageSpec, type JobSpec, type PackageSpec } from './spec.js';
import { checkDependencyGraph } from './graph.js';
import type { JobManifest, ReleaseManifest, ReleaseManifestJob, ReleaseManifestPackage } from './types.js';

export interface CreateReleaseOptions {
  name?: string;
  version?: string;
  /** where to write the release tarball (default dev_releases/<name>/<name>-<version>.tgz) */
  tarball?: string;
  /** overwrite an existing dev release with the same version */
  force?: boolean;
  /** version `0+dev.<unix seconds>` instead of the next `0+dev.N` */
  timestamp_version?: boolean;
}

export interface CreatedRelease {
  manifest: ReleaseManifest;
  /** dev_releases/<name>/<name>-<version>.yml */
  manifestPath: string;
  tarballPath: string;
}

const exec = promisify(execFile);

async function readYamlFile(path: string, label: string): Promise<Record<string, unknown> | null> {
  if (!existsSync(path)) return null;
  const value = parseYaml(await readFile(path, 'utf8'), label).value;
  return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
}

async function releaseName(dir: string, opts: CreateReleaseOptions): Promise<string> {
  const final = await readYamlFile(join(dir, 'config/final.yml'), 'config/final.yml');
  const dev = await readYamlFile(join(dir, 'config/dev.yml'), 'config/dev.yml');
  const name = opts.name ?? dev?.dev_name ?? final?.final_name ?? final?.name;
  if (name == null) throw new ReleaseError(`${join(dir, 'config/final.yml')}: no release name ('name' or 'final_name'); pass --name`);
  return checkIdentifier('release name', String(name), 'config/final.yml');
}

async function subdirs(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { withFileTypes: true });
  return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
}

async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const rel of await listTree(dir)) if ((await stat(join(dir, rel))).isFile()) out.push(rel);
  return out;
}

interface BuiltArtifact {
  name: string;
  fingerprint: string;
  files: FingerprintFile[];
}

interface PackageBuild extends BuiltArtifact {
  spec: PackageSpec;
}

interface JobBuild extends BuiltArtifact {
  spec: JobSpec;
  jobMF: JobManifest;
}

/** Blobs listed in config/blobs.yml must be present in blobs/ with the recorded digest. */
async function checkBlobs(dir: string): Promise<void> {
  const index = await readYamlFile(join(dir, 'config/blobs.yml'), 'config/blobs.yml');
  for (const [path, entry] of Object.entries(index ?? {})) {
    const file = join(dir, 'blobs', path);
    if (!existsSync(file)) {
      throw new ReleaseError(`config/blobs.yml lists blob '${path}' but blobs/${path} is missing (fetch the release's blobs first)`);
    }
    const sha = (entry as { sha?: unknown } | null)?.sha;
    if (typeof sha === 'string') {
      await verifyFileDigest(file, sha).catch((err) => {
        throw new ReleaseError(`blobs/${path} does not match config/blobs.yml: ${errorMessage(err)}`);
      });
    }
  }
}

async function packageBuild(dir: string, name: string, srcFiles: string[], blobFiles: string[]): Promise<PackageBuild> {
  const specFile = `packages/${name}/spec`;
  const spec = parsePackageSpec(await readFile(join(dir, specFile), 'utf8'), specFile);
  if (spec.name !== name) throw new ReleaseError(`${specFile}: name '${spec.name}' does not match its directory '${name}'`);
  checkIdentifier('package name', spec.name, specFile);
  if (!existsSync(join(dir, 'packages', name, 'packaging'))) throw new ReleaseError(`packages/${name}/packaging: file is missing`);
  const chosen = new Map<string, string>(); // archived path -> source
  spec.files.forEach((glob, i) => {
    let matches = matchGlobs(srcFiles, [glob]).map((p) => [p, join(dir, 'src', p)] as const);
    if (matches.length === 0) matches = matchGlobs(blobFiles, [glob]).map((p) => [p, join(dir, 'blobs', p)] as const);
    if (matches.length === 0) throw new ReleaseError(`${specFile}: files[${i}]: no file matches '${glob}' in src/ or blobs/`);
    for (const [path, source] of matches) if (!chosen.has(path)) chosen.set(path, source);
  });
  for (const path of matchGlobs([...chosen.keys()], spec.excluded_files)) chosen.delete(path);
  const files: FingerprintFile[] = [...chosen].map(([path, source]) => ({ path, source }));
  files.push({ path: 'packaging', source: join(dir, 'packages', name, 'packaging') });
  return { name, spec, files, fingerprint: await fingerprint(files, spec.dependencies) };
}

function monitFiles(entries: string[]): string[] {
  return entries.includes('monit') ? ['monit'] : entries.filter((e) => e.endsWith('.monit')).sort();
}

async function jobBuild(dir: string, name: string, packages: Set<string>): Promise<JobBuild> {
  const jobDir = join(dir, 'jobs', name);
  const specFile = `jobs/${name}/spec`;
  const spec = parseJobSpec(await readFile(join(jobDir, 'spec'), 'utf8'), specFile);
  if (spec.name !== name) throw new ReleaseError(`${specFile}: name '${spec.name}' does not match its directory '${name}'`);
  checkIdentifier('job name', spec.name, specFile);
  const monit = monitFiles(await readdir(jobDir));
  if (monit.length === 0) throw new ReleaseError(`jobs/${name}/monit: file is missing (an errand job has an empty one)`);
  const files: FingerprintFile[] = [under(jobDir, 'spec'), ...monit.map((m) => under(jobDir, m))];
  for (const src of Object.keys(spec.templates).sort()) {
    if (!existsSync(join(jobDir, 'templates', src))) {
      throw new ReleaseError(`${specFile}: templates: '${src}' is listed but jobs/${name}/templates/${src} is missing`);
    }
    files.push(under(jobDir, `templates/${src}`));
  }
  spec.packages.forEach((p, i) => {
    if (!packages.has(p)) throw new ReleaseError(`${specFile}: packages[${i}]: unknown package '${p}'`);
  });
  const jobMF: JobManifest = {
    name: spec.name,
    templates: spec.templates,
    packages: spec.packages,
    properties: spec.properties as JobManifest['properties'],
    ...(spec.description ? { description: spec.description } : {}),
    ...(spec.consumes ? { consumes: spec.consumes as JobManifest['consumes'] } : {}),
    ...(spec.provides ? { provides: spec.provides as JobManifest['provides'] } : {}),
    ...(spec.logs ? { logs: spec.logs } : {}),
  };
  // the spec file stands in for job.MF in the fingerprint, as job.MF is derived from it
  return { name, spec, jobMF, files, fingerprint: await fingerprint(files) };
}

/** Copies files into a staging dir with normalised modes and archives it deterministically. */
async function archive(files: Array<{ path: string; source: string }>, extra: Record<string, string>, dest: string): Promise<void> {
  const stage = await mkdtemp(join(tmpdir(), 'capstan-stage-'));
  try {
    for (const file of files) {
      const target = join(stage, file.path);
      await mkdir(dirname(target), { recursive: true });
      await copyFile(file.source, target);
      await chmod(target, (await stat(file.source)).mode & 0o111 ? 0o755 : 0o644);
    }
    for (const [path, content] of Object.entries(extra)) await writeFile(join(stage, path), content, { mode: 0o644 });
    for (const rel of await listTree(stage)) {
      if ((await stat(join(stage, rel))).isDirectory()) await chmod(join(stage, rel), 0o755);
    }
    await createTgz(stage, dest);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

async function gitState(dir: string): Promise<{ commit_hash: string; uncommitted_changes: boolean }> {
  try {
    const { stdout: head } = await exec('git', ['-C', dir, 'rev-parse', '--short=8', 'HEAD']);
    const { stdout: status } = await exec('git', ['-C', dir, 'status', '--porcelain', '--', '.']);
    return { commit_hash: head.trim(), uncommitted_changes: status.trim().length > 0 };
  } catch {
    return { commit_hash: 'non-git', uncommitted_changes: false };
  }
}

interface DevIndex {
  builds: Record<string, { version: string }>;
  'format-version': string;
}

async function readDevIndex(path: string): Promise<DevIndex> {
  const raw = await readYamlFile(path, path);
  const builds = (raw?.builds ?? {}) as DevIndex['builds'];
  return { builds, 'format-version': '2' };
}

function nextDevVersion(index: DevIndex): string {
  const numbers = Object.values(index.builds)
    .map((b) => /^0\+dev\.(\d+)$/.exec(String(b.version))?.[1])
    .filter((n): n is string => n != null && n.length < 9) // timestamp versions do not count
    .map(Number);
  return `0+dev.${Math.max(0, ...numbers) + 1}`;
}

/** Builds a dev release from a release directory; see CreateReleaseOptions. */
export async function createRelease(releaseDir: string, opts: CreateReleaseOptions = {}): Promise<CreatedRelease> {
  const dir = resolve(releaseDir);
  if (!existsSync(join(dir, 'jobs')) && !existsSync(join(dir, 'packages'))) {
    throw new ReleaseError(`${dir} is not a release directory (no jobs/ or packages/)`);
  }
  const name = await releaseName(dir, opts);
  await checkBlobs(dir);
  const srcFiles = await filesUnder(join(dir, 'src'));
  const blobFiles = await filesUnder(join(dir, 'blobs'));
  const packages: PackageBuild[] = [];
  for (const p of await subdirs(join(dir, 'packages'))) packages.push(await packageBuild(dir, p, srcFiles, blobFiles));
  checkDependencyGraph(packages.map((p) => ({ name: p.name, dependencies: p.spec.dependencies })), (p, dep) =>
    new ReleaseError(`packages/${p}/spec: dependencies: unknown package '${dep}'`));
  const packageNames = new Set(packages.map((p) => p.name));
  const jobs: JobBuild[] = [];
  for (const j of await subdirs(join(dir, 'jobs'))) jobs.push(await jobBuild(dir, j, packageNames));

  const devDir = join(dir, 'dev_releases', name);
  const indexPath = join(devDir, 'index.yml');
  const index = await readDevIndex(indexPath);
  const version = opts.version ?? (opts.timestamp_version ? `0+dev.${Math.floor(Date.now() / 1000)}` : nextDevVersion(index));
  checkIdentifier('release version', version, 'create-release');
  const existing = Object.entries(index.builds).find(([, b]) => String(b.version) === version);
  if (existing && !opts.force) throw new ReleaseError(`Release '${name}/${version}' already exists in dev_releases/${name}; use --force to overwrite`);

  const stage = await mkdtemp(join(tmpdir(), 'capstan-release-'));
  try {
    await mkdir(join(stage, 'jobs'));
    await mkdir(join(stage, 'packages'));
    const mfPackages: ReleaseManifestPackage[] = [];
    for (const p of packages) {
      const tgz = join(stage, 'packages', `${p.name}.tgz`);
      await archive(p.files, {}, tgz);
      mfPackages.push({ name: p.name, version: p.fingerprint, fingerprint: p.fingerprint, sha1: await fileDigest(tgz), dependencies: [...p.spec.dependencies].sort() });
    }
    const mfJobs: ReleaseManifestJob[] = [];
    for (const j of jobs) {
      const tgz = join(stage, 'jobs', `${j.name}.tgz`);
      const jobFiles = j.files.filter((f) => f.path !== 'spec');
      await archive(jobFiles, { 'job.MF': stringifyYaml(j.jobMF) }, tgz);
      mfJobs.push({ name: j.name, version: j.fingerprint, fingerprint: j.fingerprint, sha1: await fileDigest(tgz), packages: j.spec.packages });
    }
    const manifest: ReleaseManifest = { name, version, ...(await gitState(dir)), jobs: mfJobs, packages: mfPackages };
    await writeFile(join(stage, 'release.MF'), stringifyYaml(manifest));
    const tarballPath = resolve(opts.tarball ?? join(devDir, `${name}-${version}.tgz`));
    await mkdir(dirname(tarballPath), { recursive: true });
    await createTgz(stage, tarballPath, ['release.MF', 'jobs', ...mfJobs.map((j) => `jobs/${j.name}.tgz`), 'packages', ...mfPackages.map((p) => `packages/${p.name}.tgz`)]);

    const manifestPath = join(devDir, `${name}-${version}.yml`);
    await mkdir(devDir, { recursive: true });
    await writeFile(manifestPath, stringifyYaml(manifest));
    const buildId = existing?.[0] ?? randomUUID();
    index.builds[buildId] = { version };
    await writeFile(indexPath, stringifyYaml({ builds: index.builds, 'format-version': index['format-version'] }));
    return { manifest, manifestPath, tarballPath };
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
