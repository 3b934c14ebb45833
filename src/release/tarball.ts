// Reading release tarballs and job archives that someone uploads: safe extraction, then validation of
// release.MF / job.MF against what is actually in the archive.
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { safeExtract } from '../common/tar.js';
import { verifyFileDigest } from '../common/digest.js';
import { errorMessage } from '../common/errors.js';
import { parseYamlMapping, validateAt } from '../manifest/validate.js';
import { str } from '../manifest/schemas.js';
import { jobSpecSchema } from './spec.js';
import { ReleaseError, checkIdentifier } from './errors.js';
import { checkDependencyGraph } from './graph.js';
import type { JobManifest, ReleaseManifest } from './types.js';

export { safeExtract } from '../common/tar.js';

// Old Ruby-CLI releases wrote digests as `!binary` base64, which YAML reads as bytes.
const digestString = z.preprocess((v) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v), str);

const mfJob = z.object({
  name: str,
  version: digestString,
  fingerprint: digestString,
  sha1: digestString,
  packages: z.array(str).optional(),
});
const mfPackage = z.object({
  name: str,
  version: digestString,
  fingerprint: digestString,
  sha1: digestString,
  dependencies: z.array(str).nullish().transform((d) => d ?? []),
});

const releaseMF = z.object({
  name: str,
  version: str,
  commit_hash: str.nullish().transform((c) => c ?? ''),
  uncommitted_changes: z.boolean().nullish().transform((u) => u ?? false),
  jobs: z.array(mfJob).nullish().transform((j) => j ?? []),
  packages: z.array(mfPackage).nullish().transform((p) => p ?? []),
  compiled_packages: z.array(mfPackage.extend({ stemcell: str })).optional(),
  license: z.object({ version: digestString, fingerprint: digestString, sha1: digestString }).optional(),
});

export interface ReadReleaseOptions {
  /**
   * Allow package archives listed in release.MF to be absent (the bosh CLI omits packages the director
   * said it already has, via /packages/matches); the caller must then find them by fingerprint.
   */
  allowMissingPackages?: boolean;
}

async function checkArchive(label: string, path: string, sha1: string, optional: boolean): Promise<void> {
  if (!existsSync(path)) {
    if (optional) return;
    throw new ReleaseError(`${label}: archive ${basename(path)} listed in release.MF is missing from the tarball`);
  }
  await verifyFileDigest(path, sha1).catch((err) => {
    throw new ReleaseError(`${label}: ${basename(path)} does not match its sha1 in release.MF: ${errorMessage(err)}`);
  });
}

/**
 * Extracts a release tarball into destDir (jobs at destDir/jobs/<n>.tgz, packages at
 * destDir/packages/<n>.tgz) and validates release.MF against the archives.
 */
export async function readReleaseTarball(tgzPath: string, destDir: string, opts: ReadReleaseOptions = {}): Promise<ReleaseManifest> {
  await safeExtract(tgzPath, destDir);
  const mfPath = join(destDir, 'release.MF');
  const label = `${basename(tgzPath)}: release.MF`;
  if (!existsSync(mfPath)) throw new ReleaseError(`${basename(tgzPath)}: release.MF is missing; not a release tarball`);
  const manifest = validateAt(releaseMF, parseYamlMapping(await readFile(mfPath, 'utf8'), label), label) as ReleaseManifest;
  const where = `Release '${manifest.name}/${manifest.version}'`;
  checkIdentifier('release name', manifest.name, label);
  checkIdentifier('release version', manifest.version, label);
  for (const job of manifest.jobs) {
    checkIdentifier('job name', job.name, label);
    await checkArchive(`${where} job '${job.name}'`, join(destDir, 'jobs', `${job.name}.tgz`), job.sha1, false);
  }
  for (const pkg of manifest.packages) {
    checkIdentifier('package name', pkg.name, label);
    await checkArchive(`${where} package '${pkg.name}'`, join(destDir, 'packages', `${pkg.name}.tgz`), pkg.sha1, !!opts.allowMissingPackages);
  }
  for (const pkg of manifest.compiled_packages ?? []) {
    checkIdentifier('package name', pkg.name, label);
    await checkArchive(`${where} compiled package '${pkg.name}'`, join(destDir, 'compiled_packages', `${pkg.name}.tgz`), pkg.sha1, !!opts.allowMissingPackages);
  }
  if (manifest.license) await checkArchive(`${where} license`, join(destDir, 'license.tgz'), manifest.license.sha1, false);
  const graph = manifest.compiled_packages ?? manifest.packages;
  checkDependencyGraph(graph, (p, dep) => new ReleaseError(`${where}: package '${p}' depends on unknown package '${dep}'`));
  return manifest;
}

function checkRelativePath(label: string, path: string): void {
  if (path.startsWith('/') || path.split('/').includes('..')) {
    throw new ReleaseError(`${label}: template path '${path}' must be relative and stay inside the job`);
  }
}

export interface ReadJobOptions {
  /** the job name release.MF gives; job.MF must agree */
  expectedName?: string;
}

/** Extracts a job archive (templates at destDir/templates/<src>, monit at destDir/monit) and returns job.MF. */
export async function readJobArchive(jobTgzPath: string, destDir: string, opts: ReadJobOptions = {}): Promise<JobManifest> {
  await safeExtract(jobTgzPath, destDir);
  const archive = basename(jobTgzPath);
  const mfPath = join(destDir, 'job.MF');
  if (!existsSync(mfPath)) throw new ReleaseError(`Job archive ${archive}: job.MF is missing`);
  const label = `${archive}: job.MF`;
  const spec = validateAt(jobSpecSchema, parseYamlMapping(await readFile(mfPath, 'utf8'), label), label);
  if (opts.expectedName && spec.name !== opts.expectedName) {
    throw new ReleaseError(`${label}: job name '${spec.name}' does not match '${opts.expectedName}' in release.MF`);
  }
  for (const [src, dest] of Object.entries(spec.templates)) {
    checkRelativePath(label, src);
    checkRelativePath(label, dest);
    if (!existsSync(join(destDir, 'templates', src))) {
      throw new ReleaseError(`Job '${spec.name}' (${archive}): template '${src}' listed in job.MF is missing from templates/`);
    }
  }
  const entries = await readdir(destDir);
  if (!entries.includes('monit') && !entries.some((e) => e.endsWith('.monit'))) {
    throw new ReleaseError(`Job '${spec.name}' (${archive}): monit file is missing`);
  }
  return spec as JobManifest;
}
