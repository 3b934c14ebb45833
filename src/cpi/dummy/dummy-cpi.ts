// Dummy CPI: a "VM" is a local agent process (`capstan-agent -P dummy`) with its own base directory
// and its own monit, for tests and benchmarks. Stemcells are only recorded.
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgentSettings, NetworkSettings } from '../../common/protocol.js';
import { createLogger, type Logger } from '../../common/logging.js';
import type { CloudProperties, Cpi, CpiAgentConfig, VmEnv } from '../cpi.js';

export const DEFAULT_AGENT_BUNDLE = resolve(dirname(fileURLToPath(import.meta.url)), '../../../dist/capstan-agent.cjs');

/** How long deleteVm lets the agent stop its jobs and monit before killing what is left. */
const STOP_GRACE_MS = 30_000;

export interface DummyCpiOptions {
  baseDir: string; // stemcells/, vms/<vm cid>/
  agent: CpiAgentConfig;
  agentBundlePath?: string;
  nodePath?: string;
  logger?: Logger;
}

interface VmRecord {
  cid: string;
  agent_id: string;
  pid: number;
  dir: string;
  monit_port: number;
  alert_smtp_port: number;
}

export class DummyCpi implements Cpi {
  private readonly log: Logger;
  private readonly agentBundlePath: string;

  constructor(private readonly options: DummyCpiOptions) {
    this.log = options.logger ?? createLogger('dummy-cpi');
    this.agentBundlePath = options.agentBundlePath ?? DEFAULT_AGENT_BUNDLE;
  }

  private get stemcellsDir(): string {
    return join(this.options.baseDir, 'stemcells');
  }

  private vmDir(cid: string): string {
    return join(this.options.baseDir, 'vms', cid);
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
    _diskCids: string[],
    env: VmEnv,
  ): Promise<string> {
    if (!existsSync(join(this.stemcellsDir, `${safeName(stemcellCid)}.json`))) throw new Error(`Stemcell '${stemcellCid}' not found`);
    if (!existsSync(this.agentBundlePath)) {
      throw new Error(`Agent bundle '${this.agentBundlePath}' not found (run 'npm run build:agent')`);
    }
    const cid = `vm-${randomUUID()}`;
    const dir = this.vmDir(cid);
    const settingsPath = join(dir, 'agent-env.json');
    const [monitPort, alertSmtpPort] = [await freePort(), await freePort()];
    await mkdir(join(dir, 'vcap'), { recursive: true });
    await writeFile(settingsPath, JSON.stringify(this.agentSettings(agentId, cid, networks, env)), { mode: 0o600 });
    const agentConfig = {
      Platform: { Linux: { UseDefaultTmpDir: true } },
      Infrastructure: { Settings: { Sources: [{ Type: 'File', SettingsPath: settingsPath }] } },
      Capstan: { MonitPort: monitPort, AlertSmtpPort: alertSmtpPort, Monit: 'spawn' },
    };
    await writeFile(join(dir, 'agent.json'), JSON.stringify(agentConfig, null, 2));
    const pid = await this.spawnAgent(dir);
    const record: VmRecord = { cid, agent_id: agentId, pid, dir, monit_port: monitPort, alert_smtp_port: alertSmtpPort };
    await writeFile(join(dir, 'vm.json'), JSON.stringify(record));
    this.log.info({ vm_cid: cid, agent_id: agentId, pid }, 'vm created');
    return cid;
  }

  /** Detached in its own process group: the agent survives director restarts and deleteVm can signal the group. */
  private async spawnAgent(dir: string): Promise<number> {
    const logFile = await open(join(dir, 'agent.log'), 'a');
    try {
      const child = spawn(
        this.options.nodePath ?? process.execPath,
        [this.agentBundlePath, '-P', 'dummy', '-C', join(dir, 'agent.json'), '-b', join(dir, 'vcap')],
        { cwd: dir, detached: true, stdio: ['ignore', logFile.fd, logFile.fd] },
      );
      await new Promise<void>((resolveSpawn, reject) => {
        child.once('spawn', resolveSpawn);
        child.once('error', reject);
      });
      child.unref();
      return child.pid!;
    } finally {
      await logFile.close();
    }
  }

  async deleteVm(vmCid: string): Promise<void> {
    const record = await this.readRecord(vmCid);
    if (!record) return;
    // SIGTERM lets the agent stop its jobs and its monit; whatever is left afterwards is killed.
    signal(record.pid, 'SIGTERM');
    for (let waited = 0; waited < STOP_GRACE_MS && isAlive(record.pid); waited += 100) await sleep(100);
    signal(-record.pid, 'SIGKILL');
    await killProcessesUnder(record.dir);
    await rm(record.dir, { recursive: true, force: true });
    this.log.info({ vm_cid: vmCid }, 'vm deleted');
  }

  async hasVm(vmCid: string): Promise<boolean> {
    const record = await this.readRecord(vmCid);
    return record !== undefined && isAlive(record.pid);
  }

  async setVmMetadata(vmCid: string, metadata: Record<string, string>): Promise<void> {
    const dir = this.vmDir(safeName(vmCid));
    if (existsSync(dir)) await writeFile(join(dir, 'metadata.json'), JSON.stringify(metadata));
  }

  private async readRecord(vmCid: string): Promise<VmRecord | undefined> {
    const text = await readFile(join(this.vmDir(safeName(vmCid)), 'vm.json'), 'utf8').catch(() => undefined);
    return text === undefined ? undefined : (JSON.parse(text) as VmRecord);
  }

  private agentSettings(agentId: string, vmCid: string, networks: Record<string, NetworkSettings>, env: VmEnv): AgentSettings {
    const { agent } = this.options;
    return {
      agent_id: agentId,
      blobstore: agent.blobstore,
      disks: { persistent: {} },
      env: env as AgentSettings['env'],
      networks,
      ntp: agent.ntp ?? [],
      mbus: agent.mbus,
      vm: { name: vmCid },
    };
  }
}

/** cids become file names: refuse anything that could leave the state directory. */
function safeName(cid: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(cid) || cid.startsWith('.')) throw new Error(`Invalid cid '${cid}'`);
  return cid;
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
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
