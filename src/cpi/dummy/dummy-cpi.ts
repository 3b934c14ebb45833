// Dummy CPI: a "VM" is a local agent process with its own base directory (and, for the Capstan agent,
// its own monit), for tests and benchmarks. Stemcells are only recorded; a persistent disk is a
// directory whose path is the disk hint (the agent's dummy platform "mounts" it with a symlink).
//
// It runs either the Capstan agent bundle (`node capstan-agent.cjs -P dummy -C <vm>/agent.json -b <vm>/vcap`)
// or, with `agentBinary`, any bosh-agent binary the way BOSH's own dummy CPI does:
// `<binary> -b <base> -P dummy -M dummy-nats -C <base>/agent.json` (settings in <base>/bosh/dummy-cpi-agent-env.json).
// With `supervisor: 'dummy'` the Capstan agent runs with `-M dummy-nats` too: no monit per VM (benchmarks).
// monit's ports are reserved machine-wide for the VM's lifetime (ports.ts), so two agents never race for one.
//
// State, all under baseDir (so several DummyCpi objects, in several processes, share it):
//   stemcells/<cid>.json, vms/<vm cid>/{vm.json, agent.json, metadata.json, agent.log, vcap/},
//   disks/<disk cid>.json ({size_mb, cloud_properties, vm_cid, metadata}), disks/<disk cid>/ (the data).
//
// Failures for cloud-check tests: `simulate(failure)` (any DummyCpi on the same baseDir may call it):
//   {type:'vm_vanished', vmCid}        the VM's processes are killed and its record removed: has_vm -> false;
//   {type:'agent_unresponsive', vmCid} the agent's process group is SIGSTOPped: has_vm -> true, no NATS answers;
//                                      {..., unresponsive:false} SIGCONTs it again;
//   {type:'disk_missing', diskCid}     the disk's record and data are removed: has_disk -> false.
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgentSettings, NetworkSettings } from '../../common/protocol.js';
import { createLogger, type Logger } from '../../common/logging.js';
import {
  agentSettings,
  CpiError,
  CpiErrorType,
  diskNotAttached,
  diskNotFound,
  vmNotFound,
  type CloudProperties,
  type CpiAgentConfig,
  type CpiLogSink,
  type DiskCpi,
  type DiskHint,
  type VmEnv,
} from '../cpi.js';
import { launchDetached } from './launcher.js';
import { releasePorts, reservePorts, type PortRange } from './ports.js';
import { AGENT_NODE_ENV, AGENT_NODE_FLAGS } from '../../agent/node-flags.js';

export const DEFAULT_AGENT_BUNDLE = resolve(dirname(fileURLToPath(import.meta.url)), '../../../dist/capstan-agent.cjs');

/** How long deleteVm lets the agent stop its jobs and monit before killing what is left. */
const STOP_GRACE_MS = 30_000;

export interface DummyCpiOptions {
  baseDir: string;
  agent: CpiAgentConfig;
  /** The Capstan agent bundle run with node (default dist/capstan-agent.cjs). */
  agentBundlePath?: string;
  /** A bosh-agent binary run directly instead of the Capstan agent (`--agent-binary PATH`). */
  agentBinary?: string;
  nodePath?: string;
  logger?: Logger;
  /**
   * The Capstan agent's job supervisor: `monit` (default) runs the real monit per VM; `dummy` starts
   * the agent with `-M dummy-nats` as BOSH's dummy CPI does: no monit and no job processes, jobs
   * report running after start (benchmarks of the director). bosh-agent binaries always get dummy-nats.
   */
  supervisor?: DummySupervisor;
  /** Where monit's httpd and alert SMTP ports come from (ports.ts; default DEFAULT_AGENT_PORT_RANGE). */
  agentPortRange?: PortRange;
}

export type DummySupervisor = 'monit' | 'dummy';

export type DummyFailure =
  | { type: 'vm_vanished'; vmCid: string }
  | { type: 'agent_unresponsive'; vmCid: string; unresponsive?: boolean }
  | { type: 'disk_missing'; diskCid: string };

interface VmRecord {
  cid: string;
  agent_id: string;
  pid: number;
  dir: string;
  settings_path: string;
  /** Reserved for monit (released by deleteVm); absent with the dummy supervisor and bosh-agent. */
  monit_port?: number;
  alert_smtp_port?: number;
}

interface DiskRecord {
  cid: string;
  size_mb: number;
  cloud_properties: CloudProperties;
  vm_cid: string | null;
  metadata?: Record<string, string>;
}

export class DummyCpi implements DiskCpi {
  private readonly log: Logger;
  private readonly agentBundlePath: string;

  constructor(private readonly options: DummyCpiOptions) {
    this.log = options.logger ?? createLogger('dummy-cpi');
    this.agentBundlePath = options.agentBundlePath ?? DEFAULT_AGENT_BUNDLE;
  }

  private get stemcellsDir(): string {
    return join(this.options.baseDir, 'stemcells');
  }

  private get disksDir(): string {
    return join(this.options.baseDir, 'disks');
  }

  private vmDir(cid: string): string {
    return join(this.options.baseDir, 'vms', safeName(cid));
  }

  /** The directory holding a disk's data: its hint. */
  diskPath(diskCid: string): string {
    return join(this.disksDir, safeName(diskCid));
  }

  /** The same CPI, logging each call (debug level, secrets redacted) to sink: a task's `cpi` output. */
  withCpiLog(sink: CpiLogSink): DummyCpi {
    return new DummyCpi({ ...this.options, logger: createLogger('dummy-cpi', { write: sink }, 'debug') });
  }

  async info(): Promise<{ stemcell_formats: string[]; api_version: number }> {
    return { stemcell_formats: ['dummy', 'docker-tgz'], api_version: 2 };
  }

  async createStemcell(imagePath: string, cloudProperties: CloudProperties): Promise<string> {
    const cid = randomUUID();
    await mkdir(this.stemcellsDir, { recursive: true });
    await writeFile(join(this.stemcellsDir, `${cid}.json`), JSON.stringify({ image_path: imagePath, cloud_properties: cloudProperties }));
    return cid;
  }

  async deleteStemcell(stemcellCid: string): Promise<void> {
    await rm(join(this.stemcellsDir, `${safeName(stemcellCid)}.json`), { force: true });
  }

  async createVm(
    agentId: string,
    stemcellCid: string,
    _cloudProperties: CloudProperties,
    networks: Record<string, NetworkSettings>,
    _diskCids: string[], // locality only: disks are attached with attachDisk
    env: VmEnv,
  ): Promise<string> {
    if (!existsSync(join(this.stemcellsDir, `${safeName(stemcellCid)}.json`))) {
      throw new CpiError(CpiErrorType.VMCreationFailed, `Stemcell '${stemcellCid}' not found`);
    }
    const executable = this.options.agentBinary ?? this.agentBundlePath;
    if (!existsSync(executable)) {
      const hint = this.options.agentBinary ? 'check --agent-binary' : "run 'npm run build:agent'";
      throw new CpiError(CpiErrorType.VMCreationFailed, `Agent '${executable}' not found (${hint})`);
    }
    const cid = `vm-${randomUUID()}`;
    const dir = this.vmDir(cid);
    const base = join(dir, 'vcap');
    // bosh-agent reads its files below its base dir, as with BOSH's dummy CPI
    const goAgent = this.options.agentBinary !== undefined;
    const withMonit = !goAgent && (this.options.supervisor ?? 'monit') === 'monit';
    const [monitPort, alertSmtpPort] = withMonit ? await this.reserveAgentPorts(dir) : [];
    const settingsPath = goAgent ? join(base, 'bosh', 'dummy-cpi-agent-env.json') : join(dir, 'agent-env.json');
    const configPath = goAgent ? join(base, 'agent.json') : join(dir, 'agent.json');
    await mkdir(dirname(settingsPath), { recursive: true });
    await mkdir(base, { recursive: true });
    await writeFile(settingsPath, JSON.stringify(agentSettings(this.options.agent, agentId, cid, networks, env)), { mode: 0o600 });
    const agentConfig = {
      Platform: { Linux: { UseDefaultTmpDir: true } },
      Infrastructure: { Settings: { Sources: [{ Type: 'File', SettingsPath: settingsPath }] } },
      Capstan: withMonit ? { MonitPort: monitPort, AlertSmtpPort: alertSmtpPort, Monit: 'spawn' } : { Monit: 'spawn' },
    };
    await writeFile(configPath, JSON.stringify(agentConfig, null, 2));
    const args = goAgent
      ? ['-b', base, '-P', 'dummy', '-M', 'dummy-nats', '-C', configPath]
      : [...AGENT_NODE_FLAGS, this.agentBundlePath, '-P', 'dummy', '-C', configPath, '-b', base, ...(withMonit ? [] : ['-M', 'dummy-nats'])];
    // bosh-agent keeps its temporary files in TMPDIR, as BOSH's dummy CPI sets it
    const processEnv = goAgent ? { ...process.env, TMPDIR: join(dir, 'tmp') } : { ...process.env, ...AGENT_NODE_ENV };
    if (goAgent) await mkdir(join(dir, 'tmp'), { recursive: true });
    const pid = await this.spawnAgent(goAgent ? executable : (this.options.nodePath ?? process.execPath), args, dir, processEnv).catch(async (err: Error) => {
      await releasePorts([monitPort, alertSmtpPort].filter((p) => p !== undefined), dir);
      throw err;
    });
    const record: VmRecord = {
      cid,
      agent_id: agentId,
      pid,
      dir,
      settings_path: settingsPath,
      monit_port: monitPort,
      alert_smtp_port: alertSmtpPort,
    };
    await writeFile(join(dir, 'vm.json'), JSON.stringify(record));
    this.log.info({ vm_cid: cid, agent_id: agentId, pid }, 'vm created');
    return cid;
  }

  /** monit's httpd and alert SMTP ports, reserved for this VM until deleteVm (see ports.ts). */
  private async reserveAgentPorts(dir: string): Promise<number[]> {
    try {
      return await reservePorts(2, dir, this.options.agentPortRange);
    } catch (err) {
      throw new CpiError(CpiErrorType.VMCreationFailed, (err as Error).message);
    }
  }

  /** Detached in its own process group: the agent survives director restarts and deleteVm can signal the group. */
  private spawnAgent(command: string, args: string[], dir: string, env: NodeJS.ProcessEnv): Promise<number> {
    // through the launcher: a spawn from this (large, busy) process blocks its event loop until exec
    return launchDetached({ command, args, cwd: dir, env, logPath: join(dir, 'agent.log') });
  }

  async deleteVm(vmCid: string): Promise<void> {
    const record = await this.readRecord(vmCid);
    if (!record) return;
    // SIGTERM lets the agent stop its jobs and its monit; whatever is left afterwards is killed.
    signal(-record.pid, 'SIGCONT'); // a simulated unresponsive agent is stopped
    signal(record.pid, 'SIGTERM');
    for (let waited = 0; waited < STOP_GRACE_MS && isAlive(record.pid); waited += 100) await sleep(100);
    await this.destroyVm(record);
    this.log.info({ vm_cid: vmCid }, 'vm deleted');
  }

  private async destroyVm(record: VmRecord): Promise<void> {
    signal(-record.pid, 'SIGKILL');
    await killProcessesUnder(record.dir);
    await rm(record.dir, { recursive: true, force: true });
    await releasePorts([record.monit_port, record.alert_smtp_port].filter((p) => p !== undefined), record.dir);
  }

  async hasVm(vmCid: string): Promise<boolean> {
    const record = await this.readRecord(vmCid);
    return record !== undefined && isAlive(record.pid);
  }

  /** BOSH's dummy CPI cannot reboot either: the director treats NotImplemented as "recreate instead". */
  async rebootVm(_vmCid: string): Promise<void> {
    throw new CpiError(CpiErrorType.NotImplemented, 'reboot_vm is not implemented by the dummy CPI');
  }

  async setVmMetadata(vmCid: string, metadata: Record<string, string>): Promise<void> {
    const record = await this.requireVm(vmCid);
    await writeFile(join(record.dir, 'metadata.json'), JSON.stringify(metadata));
  }

  /** What setVmMetadata recorded (tests). */
  async vmMetadata(vmCid: string): Promise<Record<string, string> | undefined> {
    const text = await readFile(join(this.vmDir(vmCid), 'metadata.json'), 'utf8').catch(() => undefined);
    return text === undefined ? undefined : (JSON.parse(text) as Record<string, string>);
  }

  async createDisk(sizeMb: number, cloudProperties: CloudProperties, _vmLocality: string | null): Promise<string> {
    const cid = `disk-${randomUUID()}`;
    await mkdir(this.diskPath(cid), { recursive: true, mode: 0o700 });
    await this.writeDisk({ cid, size_mb: sizeMb, cloud_properties: cloudProperties, vm_cid: null });
    return cid;
  }

  async deleteDisk(diskCid: string): Promise<void> {
    await rm(`${this.diskPath(diskCid)}.json`, { force: true });
    await rm(this.diskPath(diskCid), { recursive: true, force: true });
  }

  async hasDisk(diskCid: string): Promise<boolean> {
    return (await this.readDisk(diskCid)) !== undefined;
  }

  /** The hint is the disk's directory; the agent settings list it under disks.persistent, as BOSH's dummy CPI does. */
  async attachDisk(vmCid: string, diskCid: string): Promise<DiskHint> {
    const record = await this.requireVm(vmCid);
    const disk = await this.requireDisk(diskCid);
    if (disk.vm_cid && disk.vm_cid !== vmCid && (await this.hasVm(disk.vm_cid))) {
      throw new CpiError(CpiErrorType.CloudError, `Disk '${diskCid}' is attached to VM '${disk.vm_cid}'`);
    }
    const hint = this.diskPath(diskCid);
    await this.writeDisk({ ...disk, vm_cid: vmCid });
    await this.updateSettings(record, (s) => ({ ...s, disks: { ...s.disks, persistent: { ...s.disks.persistent, [diskCid]: hint } } }));
    return hint;
  }

  async detachDisk(vmCid: string, diskCid: string): Promise<void> {
    const record = await this.requireVm(vmCid);
    const disk = await this.requireDisk(diskCid);
    if (disk.vm_cid !== vmCid) throw diskNotAttached(vmCid, diskCid);
    await this.writeDisk({ ...disk, vm_cid: null });
    await this.updateSettings(record, (s) => {
      const persistent = { ...s.disks.persistent };
      delete persistent[diskCid];
      return { ...s, disks: { ...s.disks, persistent } };
    });
  }

  async getDisks(vmCid: string): Promise<string[]> {
    await this.requireVm(vmCid);
    const disks = await Promise.all((await this.diskCids()).map((cid) => this.readDisk(cid)));
    return disks.filter((d) => d?.vm_cid === vmCid).map((d) => d!.cid);
  }

  /** Directory disks have no size limit: the new size is only recorded. */
  async resizeDisk(diskCid: string, newSizeMb: number): Promise<void> {
    const disk = await this.requireDisk(diskCid);
    await this.writeDisk({ ...disk, size_mb: newSizeMb });
  }

  async setDiskMetadata(diskCid: string, metadata: Record<string, string>): Promise<void> {
    const disk = await this.requireDisk(diskCid);
    await this.writeDisk({ ...disk, metadata });
  }

  /** The recorded disk (tests): size, cloud properties, owner, metadata. */
  async diskRecord(diskCid: string): Promise<DiskRecord | undefined> {
    return this.readDisk(diskCid);
  }

  /** Makes a VM or disk fail the way a cloud-check test needs (see the header comment). */
  async simulate(failure: DummyFailure): Promise<void> {
    switch (failure.type) {
      case 'vm_vanished': {
        const record = await this.requireVm(failure.vmCid);
        await this.destroyVm(record);
        break;
      }
      case 'agent_unresponsive': {
        const record = await this.requireVm(failure.vmCid);
        signal(-record.pid, failure.unresponsive === false ? 'SIGCONT' : 'SIGSTOP');
        break;
      }
      case 'disk_missing':
        await this.requireDisk(failure.diskCid);
        await this.deleteDisk(failure.diskCid);
        break;
    }
    this.log.info({ failure }, 'failure simulated');
  }

  private async readRecord(vmCid: string): Promise<VmRecord | undefined> {
    const text = await readFile(join(this.vmDir(vmCid), 'vm.json'), 'utf8').catch(() => undefined);
    return text === undefined ? undefined : (JSON.parse(text) as VmRecord);
  }

  private async requireVm(vmCid: string): Promise<VmRecord> {
    const record = await this.readRecord(vmCid);
    if (!record) throw vmNotFound(vmCid);
    return record;
  }

  private async readDisk(diskCid: string): Promise<DiskRecord | undefined> {
    const text = await readFile(`${this.diskPath(diskCid)}.json`, 'utf8').catch(() => undefined);
    return text === undefined ? undefined : (JSON.parse(text) as DiskRecord);
  }

  private async requireDisk(diskCid: string): Promise<DiskRecord> {
    const disk = await this.readDisk(diskCid);
    if (!disk) throw diskNotFound(diskCid);
    return disk;
  }

  private async writeDisk(disk: DiskRecord): Promise<void> {
    await mkdir(this.disksDir, { recursive: true });
    await writeFile(`${this.diskPath(disk.cid)}.json`, JSON.stringify(disk));
  }

  private async diskCids(): Promise<string[]> {
    const names = await readdir(this.disksDir).catch(() => [] as string[]);
    return names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -'.json'.length));
  }

  private async updateSettings(record: VmRecord, change: (s: AgentSettings) => AgentSettings): Promise<void> {
    const settings = JSON.parse(await readFile(record.settings_path, 'utf8')) as AgentSettings;
    await writeFile(record.settings_path, JSON.stringify(change(settings)), { mode: 0o600 });
  }

}

/** cids become file names: refuse anything that could leave the state directory. */
function safeName(cid: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(cid) || cid.startsWith('.')) throw new CpiError(CpiErrorType.CpiError, `Invalid cid '${cid}'`);
  return cid;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/** A zombie is dead: an agent whose parent (an external CPI call) is gone waits for init to reap it. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Job processes started by monit run in their own sessions, out of the agent's process group: find
 * them by a command line or working directory inside the VM's directory.
 */
async function killProcessesUnder(dir: string): Promise<void> {
  const prefix = `${dir}/`;
  for (let round = 0; round < 3; round++) {
    let found = 0;
    for (const entry of await readdir('/proc')) {
      const pid = Number(entry);
      if (!pid || pid === process.pid) continue;
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '');
      if (cmdline.includes(prefix) || cwd === dir || cwd.startsWith(prefix)) {
        signal(pid, 'SIGKILL');
        found++;
      }
    }
    if (found === 0) return;
    await sleep(100);
  }
}
