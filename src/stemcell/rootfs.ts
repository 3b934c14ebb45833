// The stemcell's base root filesystem: a Debian bookworm made with debootstrap, cached as a tarball
// keyed by what went into it (debootstrap takes minutes; everything built on top of it takes seconds).
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

/** Paths emptied after debootstrap: package caches and documentation nobody reads on a VM. */
const PRUNED_DIRS = ['var/cache/apt/archives', 'var/lib/apt/lists', 'usr/share/doc', 'usr/share/man', 'usr/share/info', 'usr/share/locale'];

export type Progress = (line: string) => void;

export interface BaseRootfs {
  tarPath: string;
  sha256: string;
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

export function baseRootfsKey(): string {
  const recipe = JSON.stringify({ suite: DEBIAN_SUITE, mirror: DEBIAN_MIRROR, variant: 'minbase', packages: BASE_PACKAGES, pruned: PRUNED_DIRS });
  return createHash('sha256').update(recipe).digest('hex').slice(0, 16);
}

function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('Building a stemcell needs root (debootstrap and an ownership-preserving tar)');
}

/** Returns the cached base rootfs tarball, running debootstrap first when there is none. */
export async function ensureBaseRootfs(cacheDir: string, progress: Progress = () => {}): Promise<BaseRootfs> {
  const key = baseRootfsKey();
  const tarPath = join(cacheDir, `base-rootfs-${DEBIAN_SUITE}-${key}.tar`);
  const shaPath = `${tarPath}.sha256`;
  if (existsSync(tarPath) && existsSync(shaPath)) return { tarPath, sha256: (await readFile(shaPath, 'utf8')).trim() };

  requireRoot();
  await mkdir(cacheDir, { recursive: true });
  const work = join(cacheDir, `base-rootfs-${key}.work-${process.pid}`);
  await rm(work, { recursive: true, force: true });
  try {
    const rootfs = join(work, 'rootfs');
    progress(`Building the ${DEBIAN_SUITE} base rootfs with debootstrap from ${DEBIAN_MIRROR} (takes a few minutes, once)`);
    await run('debootstrap', ['--variant=minbase', `--include=${BASE_PACKAGES.join(',')}`, DEBIAN_SUITE, rootfs, DEBIAN_MIRROR]).catch((err: Error) => {
      throw new Error(`debootstrap failed (is the 'debootstrap' package installed and ${DEBIAN_MIRROR} reachable?): ${err.message}`);
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
    return { tarPath, sha256 };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function emptyDir(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
}
