// The stemcell's base root filesystem: a Debian made with debootstrap, cached as a tarball keyed by
// what went into it (debootstrap takes minutes; everything built on top of it takes seconds). The
// packages debootstrap installed (name and version) are recorded next to it, for stemcell.MF.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileDigest } from '../common/digest.js';

export const DEBIAN_SUITE = 'bookworm';
export const DEBIAN_MIRROR = 'http://deb.debian.org/debian';

/** What the VMs need: runit as PID 1, monit, the agent's Node, sshd, and nginx's runtime libraries. */
export const BASE_PACKAGES = [
  'runit', 'monit', 'nodejs', 'openssh-server', 'ca-certificates', 'procps', 'iproute2', 'netbase', 'tar', 'gzip',
  'libssl3', 'libpcre2-8-0', 'zlib1g', 'libcrypt1',
];

/** How to debootstrap one stemcell operating system (`capstan stemcell build --os <name>`). */
export interface StemcellOsRecipe {
  suite: string;
  mirror: string;
  packages: string[];
  /**
   * How monit's HTTP interface gets the agent's monit.user credentials: `htpasswd` (`allow cleartext
   * <file>`, as BOSH stemcells do) or `inline` (an `allow user:password` line monit includes), for
   * monit 5.34 whose htpasswd reading fails with "The htpasswd file ... is not a file".
   */
  monitAuth: 'htpasswd' | 'inline';
}

export const DEFAULT_STEMCELL_OS = `debian-${DEBIAN_SUITE}`;

export const STEMCELL_OSES: Record<string, StemcellOsRecipe> = {
  [DEFAULT_STEMCELL_OS]: { suite: DEBIAN_SUITE, mirror: DEBIAN_MIRROR, packages: BASE_PACKAGES, monitAuth: 'htpasswd' },
  // trixie renamed libssl3 for the 64-bit time_t transition; its monit is 5.34
  'debian-trixie': { suite: 'trixie', mirror: DEBIAN_MIRROR, packages: BASE_PACKAGES.map((p) => (p === 'libssl3' ? 'libssl3t64' : p)), monitAuth: 'inline' },
};

export function stemcellOsRecipe(os: string): StemcellOsRecipe {
  const recipe = STEMCELL_OSES[os];
  if (!recipe) throw new Error(`Unsupported stemcell operating system '${os}' (supported: ${Object.keys(STEMCELL_OSES).join(', ')})`);
  return recipe;
}

/** Paths emptied after debootstrap: package caches and documentation nobody reads on a VM. */
const PRUNED_DIRS = ['var/cache/apt/archives', 'var/lib/apt/lists', 'usr/share/doc', 'usr/share/man', 'usr/share/info', 'usr/share/locale'];

export type Progress = (line: string) => void;

export interface BaseRootfs {
  tarPath: string;
  sha256: string;
  suite: string;
  mirror: string;
  /** Every package installed in the rootfs: `<name> <version>`, sorted. */
  packages: string[];
}

/** Runs a command; on failure the error carries the tail of its output. */
export function run(cmd: string, args: string[], options: { cwd?: string } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const keep = (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (err) => reject(new Error(`Cannot run '${cmd}': ${err.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`'${cmd} ${args.join(' ')}' exited with ${code}:\n${tail.trim()}`));
    });
  });
}

export function baseRootfsKey(os = DEFAULT_STEMCELL_OS): string {
  const { suite, mirror, packages } = stemcellOsRecipe(os);
  const recipe = JSON.stringify({ suite, mirror, variant: 'minbase', packages, pruned: PRUNED_DIRS });
  return createHash('sha256').update(recipe).digest('hex').slice(0, 16);
}

/** The cached base rootfs tarball of an operating system. */
export function baseRootfsPath(cacheDir: string, os = DEFAULT_STEMCELL_OS): string {
  return join(cacheDir, `base-rootfs-${stemcellOsRecipe(os).suite}-${baseRootfsKey(os)}.tar`);
}

function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('Building a stemcell needs root (debootstrap and an ownership-preserving tar)');
}

/** Returns the cached base rootfs tarball, running debootstrap first when there is none. */
export async function ensureBaseRootfs(cacheDir: string, progress: Progress = () => {}, os = DEFAULT_STEMCELL_OS): Promise<BaseRootfs> {
  const { suite, mirror, packages } = stemcellOsRecipe(os);
  const key = baseRootfsKey(os);
  const tarPath = baseRootfsPath(cacheDir, os);
  const shaPath = `${tarPath}.sha256`;
  if (existsSync(tarPath) && existsSync(shaPath)) {
    const sha256 = (await readFile(shaPath, 'utf8')).trim();
    return { tarPath, sha256, suite, mirror, packages: await installedPackages(tarPath) };
  }

  requireRoot();
  await mkdir(cacheDir, { recursive: true });
  const work = join(cacheDir, `base-rootfs-${key}.work-${process.pid}`);
  await rm(work, { recursive: true, force: true });
  try {
    const rootfs = join(work, 'rootfs');
    progress(`Building the ${suite} base rootfs with debootstrap from ${mirror} (takes a few minutes, once)`);
    await run('debootstrap', ['--variant=minbase', `--include=${packages.join(',')}`, suite, rootfs, mirror]).catch((err: Error) => {
      throw new Error(`debootstrap failed (is the 'debootstrap' package installed and ${mirror} reachable?): ${err.message}`);
    });
    for (const dir of PRUNED_DIRS) await emptyDir(join(rootfs, dir));
    // apt expects these to exist
    for (const dir of ['var/cache/apt/archives/partial', 'var/lib/apt/lists/partial']) await mkdir(join(rootfs, dir), { recursive: true });
    const partial = join(work, 'base.tar');
    await run('tar', ['--numeric-owner', '--xattrs', '-C', rootfs, '-cf', partial, '.']);
    const sha256 = await fileDigest(partial, 'sha256');
    await rename(partial, tarPath);
    await writeFile(shaPath, `${sha256}\n`);
    progress(`Base rootfs cached at ${tarPath}`);
    return { tarPath, sha256, suite, mirror, packages: await installedPackages(tarPath) };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** `<name> <version>` of every installed package, from the rootfs' dpkg status (cached next to the tarball). */
async function installedPackages(tarPath: string): Promise<string[]> {
  const listPath = `${tarPath}.packages`;
  if (existsSync(listPath)) return (await readFile(listPath, 'utf8')).split('\n').filter(Boolean);
  const status = await output('tar', ['-xOf', tarPath, './var/lib/dpkg/status']);
  const packages = parseDpkgStatus(status);
  await writeFile(listPath, `${packages.join('\n')}\n`);
  return packages;
}

export function parseDpkgStatus(status: string): string[] {
  const installed: string[] = [];
  for (const paragraph of status.split(/\n\n+/)) {
    const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(paragraph)?.[1]?.trim();
    const [name, version, state] = [field('Package'), field('Version'), field('Status')];
    if (name && version && state?.endsWith(' installed')) installed.push(`${name} ${version}`);
  }
  return installed.sort();
}

/** Runs a command and returns its stdout. */
function output(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    child.on('error', (err) => reject(new Error(`Cannot run '${cmd}': ${err.message}`)));
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(chunks).toString('utf8')) : reject(new Error(`'${cmd} ${args.join(' ')}' exited with ${code}: ${stderr.trim()}`))));
  });
}

async function emptyDir(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
}
