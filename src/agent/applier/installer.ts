// Installing blobs on disk (§5.5): packages under data/packages/<pkg>/<hash>, jobs (from the
// rendered templates archive) under data/jobs/<job>/<hash>, and their symlinks.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { mkdir, rm, rename, readdir, lstat, chmod, access } from 'node:fs/promises';
import { safeExtract } from '../../common/tar.js';
import { join } from 'node:path';
import type { ApplySpecPackage } from '../../common/protocol.js';
import type { BlobManager } from '../blobs.js';
import type { VcapPaths } from '../platform/paths.js';
import { chownVcap } from '../platform/layout.js';

const execFileP = promisify(execFile);

export function sha1Hex(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

export function packageInstallDir(paths: VcapPaths, pkg: Pick<ApplySpecPackage, 'name' | 'version' | 'sha1'>): string {
  return join(paths.dataPackages, pkg.name, sha1Hex(`${pkg.version}-${pkg.sha1}`));
}

export function jobInstallDir(paths: VcapPaths, job: string, version: string, archiveDigest: string): string {
  return join(paths.dataJobs, job, sha1Hex(`${version}-${archiveDigest}`));
}

export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export async function runTar(args: string[]): Promise<void> {
  try {
    await execFileP('tar', args, { maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`Running tar ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
  }
}

/** Extracts into `<dir>-bosh-agent-unpack` and renames, so a half-extracted dir never looks installed. */
async function extractAtomically(dest: string, extract: (dir: string) => Promise<void>, mode: number): Promise<void> {
  const tmp = `${dest}-bosh-agent-unpack`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true, mode });
  try {
    await extract(tmp);
    await chmod(tmp, mode);
    await chownVcap(tmp);
    await rm(dest, { recursive: true, force: true });
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

export class PackageInstaller {
  constructor(
    private readonly paths: VcapPaths,
    private readonly blobs: BlobManager,
  ) {}

  /** Downloads and extracts the package unless that version is already installed; returns its dir. */
  async install(pkg: ApplySpecPackage): Promise<string> {
    const dir = packageInstallDir(this.paths, pkg);
    if (await exists(dir)) return dir;
    await mkdir(join(this.paths.dataPackages, pkg.name), { recursive: true, mode: 0o755 });
    const blob = await this.blobs.fetchRef(pkg);
    try {
      // Untrusted input: entries with absolute paths, `..` or escaping links fail the whole install.
      // compiled packages may link to absolute paths (/var/vcap/packages/...); nothing is written through them
      await extractAtomically(dir, (tmp) => safeExtract(blob, tmp, { externalSymlinks: true }), 0o755);
    } finally {
      await rm(blob, { force: true });
    }
    return dir;
  }
}

export class JobInstaller {
  constructor(private readonly paths: VcapPaths) {}

  /**
   * Extracts `<job>/` (or `./<job>/`) of the rendered templates archive into the job's install dir
   * (§5.5), checking every entry like any other untrusted archive.
   */
  async install(job: string, version: string, archiveDigest: string, archive: string): Promise<string> {
    const dir = jobInstallDir(this.paths, job, version, archiveDigest);
    if (await exists(dir)) return dir;
    await mkdir(join(this.paths.dataJobs, job), { recursive: true, mode: 0o750 });
    await extractAtomically(
      dir,
      async (tmp) => {
        const staging = `${tmp}-archive`;
        await rm(staging, { recursive: true, force: true });
        try {
          await safeExtract(archive, staging, { filter: (path) => path === job || path.startsWith(`${job}/`) });
          for (const name of await readdir(join(staging, job)).catch(() => [] as string[])) await rename(join(staging, job, name), join(tmp, name));
        } finally {
          await rm(staging, { recursive: true, force: true });
        }
        await fixJobPermissions(tmp, tmp);
      },
      0o750,
    );
    return dir;
  }
}

/** root:vcap; directories 0750, files under bin/ 0750, every other file 0640 (§5.5). */
async function fixJobPermissions(root: string, dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    const st = await lstat(path);
    if (st.isSymbolicLink()) continue;
    if (st.isDirectory()) {
      await chmod(path, 0o750);
      await fixJobPermissions(root, path);
    } else {
      await chmod(path, path.startsWith(join(root, 'bin') + '/') ? 0o750 : 0o640);
    }
    await chownVcap(path);
  }
}
