// The build records of a release directory, in the bosh CLI's layout:
// - `.dev_builds/{jobs,packages}/<name>/index.yml` and `.final_builds/...`: per job/package, the
//   builds by fingerprint `{version: <fingerprint>, sha1, blobstore_id (final only)}`; the archives
//   themselves sit in a local cache named by digest (bosh: ~/.bosh/cache; Capstan: $CAPSTAN_HOME/cache/releases).
//   A final build's archive is also in the release blobstore, so a fresh clone can fetch it.
// - `dev_releases/<name>/index.yml` and `releases/<name>/index.yml`: release versions
//   `{builds: {<uuid>: {version}}, format-version: '2'}`, beside `<name>-<version>.yml` (the release.MF).
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Blobstore } from '../blobstore/blobstore.js';
import { verifyFileDigest } from '../common/digest.js';
import { errorMessage } from '../common/errors.js';
import { compareVersions } from '../common/versions.js';
import { parseYaml, stringifyYaml } from '../common/yaml.js';
import { capstanHome } from '../environment/paths.js';
import { ReleaseError } from './errors.js';
import type { ReleaseManifest } from './types.js';

export interface BuildEntry {
  version: string;
  sha1: string;
  blobstore_id?: string;
}

export interface FoundBuild {
  /** the archive, in the cache */
  path: string;
  sha1: string;
  blobstore_id?: string;
}

export type BuildKind = 'jobs' | 'packages';

/** Where built job and package archives are cached by digest. */
export function defaultBuildCache(env: NodeJS.ProcessEnv = process.env): string {
  return join(capstanHome(env), 'cache', 'releases');
}

async function readYaml<T>(path: string): Promise<T | null> {
  if (!existsSync(path)) return null;
  return parseYaml(await readFile(path, 'utf8'), path).value as T | null;
}

async function writeAtomically(path: string, content: string): Promise<void> {
  const temp = `${path}.${randomUUID()}.tmp`;
  await writeFile(temp, content);
  await rename(temp, path);
}

/**
 * One of `.dev_builds` / `.final_builds` for jobs or packages. A final index uploads each new archive
 * to the release blobstore (created lazily: dev releases never need it).
 */
export class BuildIndex {
  constructor(
    private readonly root: string,
    private readonly kind: BuildKind,
    private readonly cacheDir: string,
    private readonly blobstore?: () => Promise<Blobstore>,
  ) {}

  private indexPath(name: string): string {
    return join(this.root, this.kind, name, 'index.yml');
  }

  async entries(name: string): Promise<Record<string, BuildEntry>> {
    const doc = await readYaml<{ builds?: Record<string, BuildEntry> }>(this.indexPath(name));
    return doc?.builds ?? {};
  }

  /** The archive of the build with this fingerprint, from the cache or (final builds) the blobstore. */
  async find(name: string, fingerprint: string): Promise<FoundBuild | undefined> {
    const entry = Object.values(await this.entries(name)).find((e) => String(e.version) === fingerprint);
    if (!entry) return undefined;
    const sha1 = String(entry.sha1);
    const path = join(this.cacheDir, sha1);
    if (existsSync(path)) {
      await verifyFileDigest(path, sha1).catch((err) => {
        throw new ReleaseError(`Expected the cached archive of ${this.kind.slice(0, -1)} '${name}/${fingerprint}' (${path}) to match its digest: ${errorMessage(err)}`);
      });
      return { path, sha1, ...(entry.blobstore_id ? { blobstore_id: entry.blobstore_id } : {}) };
    }
    if (!entry.blobstore_id || !this.blobstore) {
      // a dev build whose archive left the cache: build it again
      return undefined;
    }
    await mkdir(this.cacheDir, { recursive: true });
    const temp = join(this.cacheDir, `.download-${randomUUID()}`);
    try {
      await (await this.blobstore()).get(entry.blobstore_id, temp);
      await verifyFileDigest(temp, sha1);
      await rename(temp, path);
    } catch (err) {
      throw new ReleaseError(`Downloading ${this.kind.slice(0, -1)} '${name}/${fingerprint}' (blob '${entry.blobstore_id}'): ${errorMessage(err)}`);
    } finally {
      await rm(temp, { force: true });
    }
    return { path, sha1, blobstore_id: entry.blobstore_id };
  }

  /** Records a new build: the archive into the cache (and, final, the blobstore), the entry into index.yml. */
  async add(name: string, fingerprint: string, archive: string, sha1: string): Promise<FoundBuild> {
    await mkdir(this.cacheDir, { recursive: true });
    const path = join(this.cacheDir, sha1);
    if (!existsSync(path)) {
      const temp = `${path}.${randomUUID()}.tmp`;
      await copyFile(archive, temp);
      await rename(temp, path);
    }
    const entry: BuildEntry = { version: fingerprint, sha1 };
    if (this.blobstore) entry.blobstore_id = await (await this.blobstore()).put(path);
    const builds = await this.entries(name);
    builds[fingerprint] = entry;
    const sorted = Object.fromEntries(Object.keys(builds).sort().map((k) => [k, builds[k]]));
    await mkdir(join(this.root, this.kind, name), { recursive: true });
    await writeAtomically(this.indexPath(name), stringifyYaml({ builds: sorted, 'format-version': '2' }));
    return { path, sha1, ...(entry.blobstore_id ? { blobstore_id: entry.blobstore_id } : {}) };
  }
}

/** dev_releases/<name>/ or releases/<name>/: the release versions built from this directory. */
export class ReleaseIndex {
  constructor(readonly dir: string) {}

  private indexPath(name: string): string {
    return join(this.dir, name, 'index.yml');
  }

  manifestPath(name: string, version: string): string {
    return join(this.dir, name, `${name}-${version}.yml`);
  }

  tarballPath(name: string, version: string): string {
    return join(this.dir, name, `${name}-${version}.tgz`);
  }

  async builds(name: string): Promise<Record<string, { version: string }>> {
    const doc = await readYaml<{ builds?: Record<string, { version: unknown }> }>(this.indexPath(name));
    return Object.fromEntries(Object.entries(doc?.builds ?? {}).map(([k, b]) => [k, { version: String(b?.version) }]));
  }

  async versions(name: string): Promise<string[]> {
    return Object.values(await this.builds(name)).map((b) => b.version).sort(compareVersions);
  }

  async lastVersion(name: string): Promise<string | undefined> {
    return (await this.versions(name)).at(-1);
  }

  async contains(name: string, version: string): Promise<boolean> {
    return (await this.versions(name)).includes(version);
  }

  /** Writes `<name>-<version>.yml` and records the version (replacing a record of the same version). */
  async add(manifest: ReleaseManifest): Promise<string> {
    const builds = await this.builds(manifest.name);
    const key = Object.entries(builds).find(([, b]) => b.version === manifest.version)?.[0] ?? randomUUID();
    builds[key] = { version: manifest.version };
    await mkdir(join(this.dir, manifest.name), { recursive: true });
    const manifestPath = this.manifestPath(manifest.name, manifest.version);
    await writeFile(manifestPath, stringifyYaml(manifest));
    const sorted = Object.fromEntries(Object.keys(builds).sort().map((k) => [k, builds[k]]));
    await writeAtomically(this.indexPath(manifest.name), stringifyYaml({ builds: sorted, 'format-version': '2' }));
    return manifestPath;
  }
}

/** bosh's next dev version: the newest dev or final version with its `dev` post-release incremented. */
export function nextDevVersion(lastDev: string | undefined, lastFinal: string | undefined, timestamp?: number): string {
  const last = [lastDev, lastFinal].filter((v): v is string => v !== undefined).sort(compareVersions).at(-1) ?? '0+dev.0';
  const plus = last.indexOf('+');
  const release = plus < 0 ? last : last.slice(0, plus);
  const post = plus < 0 ? '' : last.slice(plus + 1);
  if (timestamp !== undefined) return `${release}+dev.${timestamp}`;
  const dev = /^dev\.(\d+)$/.exec(post);
  return `${release}+dev.${dev ? Number(dev[1]) + 1 : 1}`;
}

/** bosh's next final version: 1, or the last final version with its last release segment incremented. */
export function nextFinalVersion(lastFinal: string | undefined): string {
  if (lastFinal === undefined) return '1';
  const release = lastFinal.split(/[+-]/)[0];
  const parts = release.split('.');
  const last = Number(parts.at(-1));
  if (!Number.isInteger(last)) throw new ReleaseError(`Cannot increment the last final version '${lastFinal}'; pass --version`);
  parts[parts.length - 1] = String(last + 1);
  return parts.join('.');
}
