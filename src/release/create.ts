// `capstan create-release`: a release directory (jobs/, packages/, src/, blobs/, config/) -> a dev or
// final release: job and package archives (reused from .dev_builds/.final_builds by fingerprint),
// release.MF, the release tarball and dev_releases/<name>/ (or releases/<name>/) records.
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
import type { Blobstore } from '../blobstore/blobstore.js';
import { releaseBlobstore } from './blobstore.js';
import { BuildIndex, ReleaseIndex, defaultBuildCache, nextDevVersion, nextFinalVersion, type FoundBuild } from './builds.js';
import { releaseGitState } from './git.js';

export interface CreateReleaseOptions {
  name?: string;
  version?: string;
  /** where to write the release tarball (default dev_releases/<name>/<name>-<version>.tgz) */
  tarball?: string;
  /** build despite uncommitted git changes; overwrite an existing dev release with the same version */
  force?: boolean;
  /** version `<release>+dev.<unix seconds>` instead of the next `<release>+dev.N` */
  timestamp_version?: boolean;
  /** a final release: versions 1, 2, ..., records in releases/ and .final_builds/, archives uploaded to the release blobstore */
  final?: boolean;
  /** where built archives are cached by digest (default $CAPSTAN_HOME/cache/releases) */
  cache_dir?: string;
}

export interface CreatedRelease {
  manifest: ReleaseManifest;
  /** dev_releases/<name>/<name>-<version>.yml (releases/... for a final release) */
  manifestPath: string;
  tarballPath: string;
}

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

/** The dev and final build indices of a release directory (src/release/builds.ts). */
function buildIndices(dir: string, cacheDir: string) {
  let store: Promise<Blobstore> | undefined;
  const blobstore = () => (store ??= releaseBlobstore(dir));
  return {
    dev: { jobs: new BuildIndex(join(dir, '.dev_builds'), 'jobs', cacheDir), packages: new BuildIndex(join(dir, '.dev_builds'), 'packages', cacheDir) },
    final: { jobs: new BuildIndex(join(dir, '.final_builds'), 'jobs', cacheDir, blobstore), packages: new BuildIndex(join(dir, '.final_builds'), 'packages', cacheDir, blobstore) },
  };
}

/**
 * The archive of a job or package: an earlier dev or final build with the same fingerprint is reused,
 * else it is built (into the stage) and recorded in .dev_builds. For a final release it is then
 * recorded in .final_builds too, which uploads it to the release blobstore.
 */
async function archiveFor(
  indices: { dev: BuildIndex; final: BuildIndex },
  artifact: BuiltArtifact,
  build: (dest: string) => Promise<void>,
  stage: string,
  final: boolean,
): Promise<FoundBuild> {
  let found = (await indices.dev.find(artifact.name, artifact.fingerprint)) ?? (await indices.final.find(artifact.name, artifact.fingerprint));
  if (!found) {
    const tgz = join(stage, `${artifact.name}-${artifact.fingerprint}.tgz`);
    await build(tgz);
    found = await indices.dev.add(artifact.name, artifact.fingerprint, tgz, await fileDigest(tgz));
  }
  if (final && !found.blobstore_id) {
    found = (await indices.final.find(artifact.name, artifact.fingerprint)) ?? (await indices.final.add(artifact.name, artifact.fingerprint, found.path, found.sha1));
  }
  return found;
}

/** Writes a release tarball: release.MF, jobs/<name>.tgz and packages/<name>.tgz from the given archives. */
export async function writeReleaseTarball(manifest: ReleaseManifest, archives: { jobs: Map<string, string>; packages: Map<string, string> }, dest: string): Promise<void> {
  const stage = await mkdtemp(join(tmpdir(), 'capstan-release-'));
  try {
    await mkdir(join(stage, 'jobs'));
    await mkdir(join(stage, 'packages'));
    for (const [name, path] of archives.jobs) await copyFile(path, join(stage, 'jobs', `${name}.tgz`));
    for (const [name, path] of archives.packages) await copyFile(path, join(stage, 'packages', `${name}.tgz`));
    await writeFile(join(stage, 'release.MF'), stringifyYaml(manifest));
    await mkdir(dirname(dest), { recursive: true });
    const entries = ['release.MF', 'jobs', ...[...archives.jobs.keys()].map((j) => `jobs/${j}.tgz`), 'packages', ...[...archives.packages.keys()].map((p) => `packages/${p}.tgz`)];
    await createTgz(stage, dest, entries);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/** Builds a dev release (or, with `final`, a final release) from a release directory; see CreateReleaseOptions. */
export async function createRelease(releaseDir: string, opts: CreateReleaseOptions = {}): Promise<CreatedRelease> {
  const dir = resolve(releaseDir);
  if (!existsSync(join(dir, 'jobs')) && !existsSync(join(dir, 'packages'))) {
    throw new ReleaseError(`${dir} is not a release directory (no jobs/ or packages/)`);
  }
  const name = await releaseName(dir, opts);
  const git = await releaseGitState(dir, !!opts.force);
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

  const devReleases = new ReleaseIndex(join(dir, 'dev_releases'));
  const finalReleases = new ReleaseIndex(join(dir, 'releases'));
  const version = await releaseVersion(name, opts, devReleases, finalReleases);
  const indices = buildIndices(dir, opts.cache_dir ?? defaultBuildCache());

  const stage = await mkdtemp(join(tmpdir(), 'capstan-release-'));
  try {
    const final = !!opts.final;
    const archives = { jobs: new Map<string, string>(), packages: new Map<string, string>() };
    const mfPackages: ReleaseManifestPackage[] = [];
    for (const p of packages) {
      const built = await archiveFor({ dev: indices.dev.packages, final: indices.final.packages }, p, (dest) => archive(p.files, {}, dest), stage, final);
      archives.packages.set(p.name, built.path);
      mfPackages.push({ name: p.name, version: p.fingerprint, fingerprint: p.fingerprint, sha1: built.sha1, dependencies: [...p.spec.dependencies].sort() });
    }
    const mfJobs: ReleaseManifestJob[] = [];
    for (const j of jobs) {
      const jobFiles = j.files.filter((f) => f.path !== 'spec');
      const built = await archiveFor({ dev: indices.dev.jobs, final: indices.final.jobs }, j, (dest) => archive(jobFiles, { 'job.MF': stringifyYaml(j.jobMF) }, dest), stage, final);
      archives.jobs.set(j.name, built.path);
      mfJobs.push({ name: j.name, version: j.fingerprint, fingerprint: j.fingerprint, sha1: built.sha1, packages: j.spec.packages });
    }
    const manifest: ReleaseManifest = { name, version, ...git, jobs: mfJobs, packages: mfPackages };
    const releases = final ? finalReleases : devReleases;
    const tarballPath = resolve(opts.tarball ?? releases.tarballPath(name, version));
    await writeReleaseTarball(manifest, archives, tarballPath);
    const manifestPath = await releases.add(manifest);
    return { manifest, manifestPath, tarballPath };
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/** The version to create: the given one (checked against existing ones) or the next dev/final version. */
async function releaseVersion(name: string, opts: CreateReleaseOptions, devReleases: ReleaseIndex, finalReleases: ReleaseIndex): Promise<string> {
  if (opts.final) {
    const version = checkIdentifier('release version', opts.version ?? nextFinalVersion(await finalReleases.lastVersion(name)), 'create-release');
    if (await finalReleases.contains(name, version)) throw new ReleaseError(`Release '${name}' version '${version}' already exists`);
    return version;
  }
  const timestamp = opts.timestamp_version ? Math.floor(Date.now() / 1000) : undefined;
  const version = checkIdentifier(
    'release version',
    opts.version ?? nextDevVersion(await devReleases.lastVersion(name), await finalReleases.lastVersion(name), timestamp),
    'create-release',
  );
  if (!opts.force && (await devReleases.contains(name, version))) {
    throw new ReleaseError(`Release '${name}/${version}' already exists in dev_releases/${name}; use --force to overwrite`);
  }
  return version;
}
