// Docker CPI: stemcells are imported images, VMs are containers on Capstan's bridge network running
// runit as PID 1. The agent reads its settings from a file the CPI puts into the container before start.
import { randomUUID } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import * as tar from 'tar';
import type { AgentSettings, NetworkSettings } from '../../common/protocol.js';
import { createLogger, type Logger } from '../../common/logging.js';
import type { CloudProperties, Cpi, CpiAgentConfig, VmEnv } from '../cpi.js';
import { SETTINGS_PATH } from '../../stemcell/builder.js';
import { DEFAULT_NETWORK, ensureNetwork, isNotFound } from './network.js';

export { SETTINGS_PATH };
export const STEMCELL_REPOSITORY = 'capstan-stemcell';
export const VM_LABEL = 'capstan.vm';

export interface DockerCpiOptions {
  agent: CpiAgentConfig;
  network?: string; // docker network name, default 'capstan'
  subnet?: string; // used when the network has to be created
  gateway?: string;
  socketPath?: string;
  logger?: Logger;
}

export class DockerCpi implements Cpi {
  private readonly docker: Docker;
  private readonly network: { name: string; subnet: string; gateway: string };
  private readonly log: Logger;

  constructor(private readonly options: DockerCpiOptions) {
    this.docker = new Docker(options.socketPath ? { socketPath: options.socketPath } : undefined);
    const name = options.network ?? DEFAULT_NETWORK.name;
    this.network = { name, subnet: options.subnet ?? DEFAULT_NETWORK.subnet, gateway: options.gateway ?? DEFAULT_NETWORK.gateway };
    this.log = options.logger ?? createLogger('docker-cpi');
  }

  async info(): Promise<{ stemcell_formats: string[]; api_version: number }> {
    return { stemcell_formats: ['docker-tgz', 'docker-light'], api_version: 2 };
  }

  /** Imports the stemcell image (a gzipped rootfs tarball) as `capstan-stemcell:<uuid>`, the stemcell cid. */
  async createStemcell(imagePath: string, _cloudProperties: CloudProperties): Promise<string> {
    const tag = randomUUID();
    const stream = (await this.docker.importImage(imagePath, { repo: STEMCELL_REPOSITORY, tag })) as Readable;
    type ProgressEvent = { error?: string; errorDetail?: { message?: string } };
    const events = await new Promise<ProgressEvent[]>((resolve, reject) => {
      this.docker.modem.followProgress(stream, (err: Error | null, output: ProgressEvent[]) => (err ? reject(err) : resolve(output)));
    });
    const failed = events.find((e) => e.error);
    if (failed) throw new Error(`Importing stemcell image '${imagePath}' failed: ${failed.errorDetail?.message ?? failed.error}`);
    const cid = `${STEMCELL_REPOSITORY}:${tag}`;
    this.log.info({ stemcell_cid: cid }, 'stemcell imported');
    return cid;
  }

  async deleteStemcell(stemcellCid: string): Promise<void> {
    await ignoreNotFound(this.docker.getImage(stemcellCid).remove({ force: true }));
  }

  async createVm(
    agentId: string,
    stemcellCid: string,
    _cloudProperties: CloudProperties,
    networks: Record<string, NetworkSettings>,
    _diskCids: string[], // persistent disks are not supported by this CPI yet
    env: VmEnv,
  ): Promise<string> {
    await ensureNetwork({ ...this.network, docker: this.docker });
    const ip = staticIp(networks);
    const container = await this.docker.createContainer({
      name: `vm-${randomUUID()}`,
      Image: stemcellCid,
      Cmd: ['runsvdir', '-P', '/etc/service'],
      Hostname: agentId,
      Labels: { [VM_LABEL]: 'true', 'capstan.agent_id': agentId, 'capstan.stemcell': stemcellCid },
      // runsvdir stops every service and exits on SIGHUP
      StopSignal: 'SIGHUP',
      HostConfig: { NetworkMode: this.network.name },
      NetworkingConfig: {
        EndpointsConfig: { [this.network.name]: ip ? { IPAMConfig: { IPv4Address: ip } } : {} },
      },
    });
    try {
      const settings = this.agentSettings(agentId, container.id, networks, env);
      await container.putArchive(await settingsArchive(settings), { path: '/' });
      await container.start();
    } catch (err) {
      await ignoreNotFound(container.remove({ force: true, v: true }));
      throw new Error(`Creating VM for agent '${agentId}' failed: ${(err as Error).message}`);
    }
    this.log.info({ vm_cid: container.id, agent_id: agentId, ip }, 'vm created');
    return container.id;
  }

  async deleteVm(vmCid: string): Promise<void> {
    await ignoreNotFound(this.docker.getContainer(vmCid).remove({ force: true, v: true }));
    this.log.info({ vm_cid: vmCid }, 'vm deleted');
  }

  async hasVm(vmCid: string): Promise<boolean> {
    try {
      await this.docker.getContainer(vmCid).inspect();
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async rebootVm(vmCid: string): Promise<void> {
    await this.docker.getContainer(vmCid).restart();
  }

  /** Docker labels are fixed at creation, so metadata is only logged. */
  async setVmMetadata(vmCid: string, metadata: Record<string, string>): Promise<void> {
    this.log.debug({ vm_cid: vmCid, metadata }, 'vm metadata (not stored by docker)');
  }

  private agentSettings(
    agentId: string,
    vmCid: string,
    networks: Record<string, NetworkSettings>,
    env: VmEnv,
  ): AgentSettings {
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

/** The IP of the network carrying the default gateway (else the first network with an IP). */
function staticIp(networks: Record<string, NetworkSettings>): string | undefined {
  const all = Object.values(networks).filter((n) => n.type !== 'dynamic' && n.type !== 'vip' && n.ip);
  return (all.find((n) => n.default?.includes('gateway')) ?? all[0])?.ip;
}

/** A tar stream holding only the settings file (mode 0600: it carries the agent's mbus private key). */
async function settingsArchive(settings: AgentSettings): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'capstan-settings-'));
  const relative = SETTINGS_PATH.slice(1);
  await mkdir(join(dir, dirname(relative)), { recursive: true });
  await writeFile(join(dir, relative), JSON.stringify(settings), { mode: 0o600 });
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of tar.c({ cwd: dir, portable: true, noDirRecurse: true }, [relative]) as AsyncIterable<Buffer>) {
      chunks.push(Buffer.from(chunk));
    }
    return Buffer.concat(chunks);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function ignoreNotFound(promise: Promise<unknown>): Promise<void> {
  try {
    await promise;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}
