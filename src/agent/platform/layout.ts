// Bootstrapping the /var/vcap directory layout (§5.4) and small filesystem helpers shared by the
// applier and the compiler (symlinks that replace, root:vcap ownership when the group exists).
import { mkdir, symlink, readlink, rm, lstat, chmod, chown, readFile, writeFile, rename, readdir } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import type { Logger } from '../../common/logging.js';
import type { VcapPaths } from './paths.js';

const execFileP = promisify(execFile);

export async function bootstrapLayout(paths: VcapPaths): Promise<void> {
  const dirs: Array<[string, number]> = [
    [paths.bosh, 0o755],
    [paths.boshEtc, 0o755],
    [paths.boshBin, 0o755],
    [paths.boshLog, 0o755],
    [paths.data, 0o755],
    [paths.dataSys, 0o755],
    [paths.sysLog, 0o755],
    [paths.sysRun, 0o750],
    [paths.dataJobs, 0o750],
    [paths.dataPackages, 0o755],
    [paths.blobs, 0o700],
    [paths.sensitiveBlobs, 0o700],
    [paths.tmp, 0o755],
    [paths.jobs, 0o755],
    [paths.packages, 0o755],
    [paths.monit, 0o755],
    [paths.monitJob, 0o755],
    [paths.instance, 0o755],
  ];
  for (const [dir, mode] of dirs) {
    await mkdir(dir, { recursive: true, mode });
    await chmod(dir, mode);
  }
  for (const dir of [paths.dataSys, paths.sysLog, paths.sysRun]) await chownVcap(dir);
  await ensureSymlink(paths.dataSys, paths.sys);
}

/** env.bosh.run_dir.tmpfs_size: the size of the sys/run tmpfs (§4.2, default 16m). */
export function runDirTmpfsSize(env: Record<string, unknown> | undefined): string {
  const size = (env?.run_dir as { tmpfs_size?: unknown } | undefined)?.tmpfs_size;
  return typeof size === 'string' && /^\d+[kmg]?$/i.test(size) ? size : '16m';
}

/**
 * sys/run on a tmpfs (§5.4, ubuntu platform): job pid files do not survive a reboot. Skipped when it
 * is mounted already or jobs use the directory (an agent restart); a container that may not mount
 * (no CAP_SYS_ADMIN) keeps the plain directory.
 */
export async function mountRunDirTmpfs(paths: VcapPaths, size: string, logger: Logger): Promise<void> {
  const mounts = await readFile('/proc/mounts', 'utf8').catch(() => '');
  if (mounts.split('\n').some((line) => line.split(' ')[1] === paths.sysRun)) return;
  if ((await readdir(paths.sysRun).catch(() => [])).length > 0) return;
  try {
    await execFileP('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0750`, 'tmpfs', paths.sysRun]);
    await chownVcap(paths.sysRun);
  } catch (err) {
    const e = err as Error & { stderr?: string };
    logger.info({ err: (e.stderr || e.message).trim() }, 'sys/run stays a directory: mounting a tmpfs is not allowed here');
  }
}

/**
 * Writes monit.user = `vcap:<random>` (§4.3) unless it already holds credentials: a monit that
 * outlived an agent restart (runit keeps it running) only knows the password it was started with.
 */
export async function ensureMonitUser(paths: VcapPaths): Promise<string> {
  const existing = (await readFile(paths.monitUser, 'utf8').catch(() => '')).trim();
  if (/^vcap:.+/.test(existing)) return existing;
  const text = `vcap:${randomBytes(16).toString('hex')}`;
  await writeFile(paths.monitUser, `${text}\n`, { mode: 0o600 });
  await chmod(paths.monitUser, 0o600);
  return text;
}

/**
 * The stemcell's alerts.monitrc (§3.2): the mail body lines the alert listener parses. monitrc
 * includes <base>/monit/*.monitrc, so this works for the runit and the spawned monit alike.
 */
const ALERTS_MONITRC = `set mail-format {
  from: monit@localhost
  subject: Monit Alert
  message: Service: $SERVICE
Event: $EVENT
Action: $ACTION
Date: $DATE
Description: $DESCRIPTION
}
`;

export async function ensureAlertsMonitrc(paths: VcapPaths): Promise<void> {
  const path = `${paths.monit}/alerts.monitrc`;
  if (await lstat(path).then(() => true, () => false)) return;
  await writeFile(path, ALERTS_MONITRC, { mode: 0o600 });
}

let vcapGid: number | null | undefined;

async function lookupVcapGid(): Promise<number | null> {
  if (vcapGid !== undefined) return vcapGid;
  const groups = await readFile('/etc/group', 'utf8').catch(() => '');
  const line = groups.split('\n').find((l) => l.startsWith('vcap:'));
  vcapGid = line ? Number(line.split(':')[2]) : null;
  return vcapGid;
}

/** chown root:vcap when the vcap group exists (stemcells); hosts running the dummy CPI lack it. */
export async function chownVcap(path: string): Promise<void> {
  const gid = await lookupVcapGid();
  if (gid !== null && process.getuid?.() === 0) await chown(path, 0, gid);
}

/** Creates link -> target, replacing what is there unless it already points to target (§5.4). */
export async function ensureSymlink(target: string, link: string): Promise<void> {
  const current = await readlink(link).catch(() => undefined);
  if (current === target) return;
  await mkdir(dirname(link), { recursive: true });
  const exists = await lstat(link).then(() => true, () => false);
  if (exists) {
    // Atomic replacement: a temporary link renamed over the old one.
    const tmp = `${link}.tmp-${randomBytes(4).toString('hex')}`;
    await symlink(target, tmp);
    await rename(tmp, link).catch(async (err) => {
      await rm(tmp, { force: true });
      if ((err as NodeJS.ErrnoException).code !== 'EISDIR') throw err;
      await rm(link, { recursive: true, force: true });
      await symlink(target, link);
    });
    return;
  }
  await symlink(target, link);
}

export async function writeFileAtomic(path: string, data: string, mode = 0o644): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, data, { mode });
  await rename(tmp, path);
}
