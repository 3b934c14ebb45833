// Bootstrapping the /var/vcap directory layout (§5.4) and small filesystem helpers shared by the
// applier and the compiler (symlinks that replace, root:vcap ownership when the group exists).
import { mkdir, symlink, readlink, rm, lstat, chmod, chown, readFile, writeFile, rename } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import type { VcapPaths } from './paths.js';

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
