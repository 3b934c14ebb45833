// `capstan finalize-release <tarball>`: a (dev) release tarball becomes a final release of a release
// directory: its job and package archives are recorded in .final_builds (and uploaded to the release
// blobstore unless a final build with that fingerprint exists), its manifest in releases/<name>/.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Blobstore } from '../blobstore/blobstore.js';
import { releaseBlobstore } from './blobstore.js';
import { BuildIndex, ReleaseIndex, defaultBuildCache, nextFinalVersion } from './builds.js';
import { ReleaseError, checkIdentifier } from './errors.js';
import { releaseGitState } from './git.js';
import { readReleaseTarball } from './tarball.js';
import type { ReleaseManifest } from './types.js';

export interface FinalizeReleaseOptions {
  name?: string;
  version?: string;
  /** finalize despite uncommitted git changes in the release directory */
  force?: boolean;
  cache_dir?: string;
}

export interface FinalizedRelease {
  manifest: ReleaseManifest;
  /** releases/<name>/<name>-<version>.yml */
  manifestPath: string;
}

export async function finalizeRelease(tarball: string, releaseDir: string, opts: FinalizeReleaseOptions = {}): Promise<FinalizedRelease> {
  const dir = resolve(releaseDir);
  await releaseGitState(dir, !!opts.force);
  const work = await mkdtemp(join(tmpdir(), 'capstan-finalize-'));
  try {
    const source = await readReleaseTarball(resolve(tarball), work);
    if (source.compiled_packages?.length) throw new ReleaseError(`Expected '${tarball}' to be a source release, but it holds compiled packages`);
    const name = checkIdentifier('release name', opts.name ?? source.name, 'finalize-release');
    const finalReleases = new ReleaseIndex(join(dir, 'releases'));
    const version = checkIdentifier('release version', opts.version ?? nextFinalVersion(await finalReleases.lastVersion(name)), 'finalize-release');
    if (await finalReleases.contains(name, version)) throw new ReleaseError(`Release '${name}' version '${version}' already exists`);

    let store: Promise<Blobstore> | undefined;
    const blobstore = () => (store ??= releaseBlobstore(dir));
    const cache = opts.cache_dir ?? defaultBuildCache();
    const finalBuilds = (kind: 'jobs' | 'packages') => new BuildIndex(join(dir, '.final_builds'), kind, cache, blobstore);
    const jobs = finalBuilds('jobs');
    const packages = finalBuilds('packages');
    for (const p of source.packages) {
      if (!(await packages.find(p.name, p.fingerprint))) await packages.add(p.name, p.fingerprint, join(work, 'packages', `${p.name}.tgz`), p.sha1);
    }
    for (const j of source.jobs) {
      if (!(await jobs.find(j.name, j.fingerprint))) await jobs.add(j.name, j.fingerprint, join(work, 'jobs', `${j.name}.tgz`), j.sha1);
    }
    const manifest: ReleaseManifest = { ...source, name, version };
    const manifestPath = await finalReleases.add(manifest);
    return { manifest, manifestPath };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
