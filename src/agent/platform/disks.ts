// Persistent and dynamic disks (agent-protocol.md §2.12). Capstan's CPIs hand out directory-backed
// disks: a disk's device `path` is a directory (or, on ubuntu, a block device). Mounting is
//  - ubuntu: `mount --bind <dir> <mountpoint>` (BindMountPersistentDisk; a symlink when the container
//    may not mount), `mount <device>` for block devices (pre-formatted; ext4 when blkid finds none);
//  - dummy: SIMULATED — the mount point becomes a symlink to the disk directory, no mount(2) at all.
// Partitioning and growing of block devices are not implemented.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { lstat, mkdir, readFile, readlink, rm, rmdir, stat, writeFile, chmod, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentSettings } from '../../common/protocol.js';
import type { VcapPaths } from './paths.js';
import { ensureSymlink, writeFileAtomic } from './layout.js';

const execFileP = promisify(execFile);

/** persistent_disk_hints.json entry: Go field names (§4.2). */
export interface DiskSettings {
  ID: string;
  DeviceID?: string;
  VolumeID?: string;
  Lun?: string;
  HostDeviceID?: string;
  Path?: string;
  ISCSISettings?: { InitiatorName?: string; Username?: string; Target?: string; Password?: string };
  FileSystemType?: string;
  MountOptions?: string[];
  Partitioner?: string;
}

/** A hint as the director/CPI sends it: a device path or `{path, volume_id, id, lun, host_device_id, iscsi_settings}`. */
export function diskSettingsFromHint(cid: string, hint: unknown, env: AgentSettings['env'] = {}): DiskSettings {
  const disk: DiskSettings = { ID: cid };
  if (typeof hint === 'string') disk.Path = hint;
  else if (hint && typeof hint === 'object') {
    const h = hint as Record<string, unknown>;
    const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
    disk.Path = str(h.path);
    disk.VolumeID = str(h.volume_id);
    disk.DeviceID = str(h.id);
    disk.Lun = str(h.lun);
    disk.HostDeviceID = str(h.host_device_id);
    const iscsi = h.iscsi_settings as Record<string, string> | undefined;
    if (iscsi) disk.ISCSISettings = { InitiatorName: iscsi.initiator_name, Username: iscsi.username, Target: iscsi.target, Password: iscsi.password };
  }
  if (typeof env.persistent_disk_fs === 'string' && env.persistent_disk_fs) disk.FileSystemType = env.persistent_disk_fs;
  if (Array.isArray(env.persistent_disk_mount_options)) disk.MountOptions = env.persistent_disk_mount_options as string[];
  if (typeof env.persistent_disk_partitioner === 'string' && env.persistent_disk_partitioner) disk.Partitioner = env.persistent_disk_partitioner;
  return disk;
}

export interface Mounter {
  mount(device: string, mountPoint: string, options?: string[]): Promise<void>;
  unmount(mountPoint: string): Promise<boolean>;
  /** The device mounted at mountPoint, if any. */
  mountedDevice(mountPoint: string): Promise<string | undefined>;
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}

/** Simulated mounts: symlinks. */
export class DummyMounter implements Mounter {
  async mount(device: string, mountPoint: string): Promise<void> {
    if (!(await isDirectory(device))) throw new Error(`Mounting '${device}': dummy platform disks must be directories`);
    const st = await lstat(mountPoint).catch(() => undefined);
    if (st?.isDirectory()) await rmdir(mountPoint).catch(() => {
      throw new Error(`Mounting '${device}' at '${mountPoint}': mount point is a non-empty directory`);
    });
    await ensureSymlink(device, mountPoint);
  }

  async unmount(mountPoint: string): Promise<boolean> {
    const st = await lstat(mountPoint).catch(() => undefined);
    if (!st?.isSymbolicLink()) return false;
    await rm(mountPoint, { force: true });
    await mkdir(mountPoint, { mode: 0o700 });
    return true;
  }

  async mountedDevice(mountPoint: string): Promise<string | undefined> {
    return readlink(mountPoint).catch(() => undefined);
  }
}

/**
 * Real mounts; the device of a bind mount is remembered in a side file, since /proc/mounts does not
 * show it. A container without the right to mount (no CAP_SYS_ADMIN, AppArmor) gets the dummy
 * platform's symlink instead of a bind mount for directory disks.
 */
export class LinuxMounter implements Mounter {
  private readonly links = new DummyMounter();

  constructor(private readonly registry: string) {}

  async mount(device: string, mountPoint: string, options: string[] = []): Promise<void> {
    await mkdir(mountPoint, { recursive: true, mode: 0o700 });
    if (await isDirectory(device)) {
      const bound = await execFileP('mount', ['--bind', device, mountPoint]).then(() => true, () => false);
      if (!bound) return this.links.mount(device, mountPoint);
    } else {
      const { stdout } = await execFileP('blkid', ['-o', 'value', '-s', 'TYPE', device]).catch(() => ({ stdout: '' }));
      if (!stdout.trim()) await execFileP('mkfs.ext4', ['-q', device]);
      await execFileP('mount', [...(options.length ? ['-o', options.join(',')] : []), device, mountPoint]);
    }
    await this.remember(mountPoint, device);
  }

  async unmount(mountPoint: string): Promise<boolean> {
    if (await this.links.mountedDevice(mountPoint)) return this.links.unmount(mountPoint);
    if (!(await this.isMountPoint(mountPoint))) return false;
    await execFileP('umount', [mountPoint]);
    await this.remember(mountPoint, undefined);
    return true;
  }

  async mountedDevice(mountPoint: string): Promise<string | undefined> {
    const linked = await this.links.mountedDevice(mountPoint);
    if (linked) return linked;
    if (!(await this.isMountPoint(mountPoint))) return undefined;
    return (await this.read())[mountPoint];
  }

  private async isMountPoint(path: string): Promise<boolean> {
    const mounts = await readFile('/proc/mounts', 'utf8').catch(() => '');
    return mounts.split('\n').some((line) => line.split(' ')[1] === path);
  }

  private async read(): Promise<Record<string, string>> {
    return JSON.parse(await readFile(this.registry, 'utf8').catch(() => '{}')) as Record<string, string>;
  }

  private async remember(mountPoint: string, device: string | undefined): Promise<void> {
    const all = await this.read();
    if (device) all[mountPoint] = device;
    else delete all[mountPoint];
    await writeFileAtomic(this.registry, JSON.stringify(all), 0o600);
  }
}

/** Runs one step of a multi-step operation; its error is prefixed with the step, bosh-agent style. */
async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`${what}: ${(e.stderr || e.message).trim()}`);
  }
}

export class DiskManager {
  constructor(
    private readonly paths: VcapPaths,
    private readonly mounter: Mounter,
    private readonly settings: () => Promise<AgentSettings>,
  ) {}

  async hints(): Promise<Record<string, DiskSettings>> {
    return JSON.parse(await readFile(this.paths.diskHints, 'utf8').catch(() => '{}')) as Record<string, DiskSettings>;
  }

  async addHint(cid: string, hint: unknown): Promise<void> {
    const { env } = await this.settings();
    await this.changeHints((hints) => void (hints[cid] = diskSettingsFromHint(cid, hint, env)));
  }

  async removeHint(cid: string): Promise<void> {
    await this.changeHints((hints) => void delete hints[cid]);
  }

  /** Read, change and save persistent_disk_hints.json. */
  private async changeHints(change: (hints: Record<string, DiskSettings>) => void): Promise<void> {
    const hints = await this.hints();
    change(hints);
    await writeFileAtomic(this.paths.diskHints, JSON.stringify(hints), 0o600);
  }

  /** Settings' persistent disks plus the hints, by CID. */
  async knownDisks(): Promise<Record<string, DiskSettings>> {
    const settings = await this.settings();
    const out: Record<string, DiskSettings> = {};
    for (const [cid, hint] of Object.entries(settings.disks.persistent ?? {})) out[cid] = diskSettingsFromHint(cid, hint, settings.env);
    return { ...out, ...(await this.hints()) };
  }

  async resolve(cid: string): Promise<DiskSettings> {
    const disk = (await this.knownDisks())[cid];
    if (!disk) throw new Error(`Persistent disk with volume id '${cid}' could not be found`);
    if (!disk.Path) throw new Error(`Resolving persistent disk '${cid}': no device path in its settings`);
    return disk;
  }

  async listMounted(): Promise<string[]> {
    const mounted = new Set([await this.mounter.mountedDevice(this.paths.store), await this.mounter.mountedDevice(this.paths.storeMigrationTarget)]);
    return Object.values(await this.knownDisks())
      .filter((d) => d.Path && mounted.has(d.Path))
      .map((d) => d.ID);
  }

  /** Mounts on store, or on store_migration_target when store holds another disk (§2.12). */
  async mount(cid: string): Promise<void> {
    const disk = await this.resolve(cid);
    const inStore = await this.mounter.mountedDevice(this.paths.store);
    if (inStore === disk.Path || (await this.mounter.mountedDevice(this.paths.storeMigrationTarget)) === disk.Path) return;
    const target = inStore ? this.paths.storeMigrationTarget : this.paths.store;
    await this.mounter.mount(disk.Path!, target, disk.MountOptions);
    if (target === this.paths.store) await chmod(this.paths.store, 0o700).catch(() => undefined);
    await this.recordManaged(cid);
  }

  /** managed_disk_settings.json: the CID of the disk last mounted (plain text, §5.4). */
  private async recordManaged(cid: string): Promise<void> {
    await writeFile(this.paths.managedDisk, cid);
  }

  async unmount(cid: string): Promise<{ message: string }> {
    const disk = await this.resolve(cid);
    for (const mountPoint of [this.paths.store, this.paths.storeMigrationTarget]) {
      if ((await this.mounter.mountedDevice(mountPoint)) === disk.Path) {
        await this.mounter.unmount(mountPoint);
        return { message: `Unmounted partition of ${disk.Path}` };
      }
    }
    return { message: `Partition of ${disk.Path} is not mounted` };
  }

  /** Copies store into store_migration_target, then moves the new disk to store (§2.12). */
  async migrate(): Promise<void> {
    const oldDevice = await this.mounter.mountedDevice(this.paths.store);
    const newDevice = await this.mounter.mountedDevice(this.paths.storeMigrationTarget);
    if (!oldDevice || !newDevice) return;
    await step('Copying files from old disk to new disk', () => execFileP('cp', ['-a', `${this.paths.store}/.`, `${this.paths.storeMigrationTarget}/`]));
    await step('Unmounting old persistent disk', () => this.mounter.unmount(this.paths.store));
    await step('Remounting new disk on original mountpoint', async () => {
      await this.mounter.unmount(this.paths.storeMigrationTarget);
      await this.mounter.mount(newDevice, this.paths.store);
    });
    const cid = Object.values(await this.knownDisks()).find((d) => d.Path === newDevice)?.ID;
    if (cid) await this.recordManaged(cid);
  }

  async addDynamic(cid: string, hint: unknown): Promise<void> {
    const device = diskSettingsFromHint(cid, hint).Path;
    if (!device) throw new Error(`Resolving dynamic disk '${cid}': no device path in the hint`);
    await mkdir(this.paths.dynamicDisks, { recursive: true, mode: 0o755 });
    await ensureSymlink(device, join(this.paths.dynamicDisks, cid));
  }

  async removeDynamic(cid: string): Promise<void> {
    if (!/^[^/]+$/.test(cid) || cid === '..') throw new Error(`Invalid disk CID '${cid}'`);
    await rm(join(this.paths.dynamicDisks, cid), { force: true });
  }

  /** disk_associations of update_settings: instance/disks/<name> -> device (§2.13). */
  async associate(associations: Array<{ name: string; cid: string }>): Promise<void> {
    await mkdir(this.paths.instanceDisks, { recursive: true, mode: 0o755 });
    for (const name of await readdir(this.paths.instanceDisks)) {
      if (!associations.some((a) => a.name === name)) await rm(join(this.paths.instanceDisks, name), { force: true });
    }
    for (const { name, cid } of associations) {
      const disk = await this.resolve(cid);
      await ensureSymlink(disk.Path!, join(this.paths.instanceDisks, name));
    }
  }
}
