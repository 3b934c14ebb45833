// Docker CPI: stemcells are imported images, VMs are containers on Capstan's bridge networks running
// runit as PID 1. The agent reads its settings from a file the CPI puts into the container before start.
//
// A VM is the container `vm-<uuid>` (the VM cid, stable across re-creates) plus its ephemeral volume
// `vm-<uuid>-vcap` mounted at /var/vcap (Docker fills it from the stemcell's /var/vcap on first use):
// the agent's state, jobs and packages survive the container. A persistent disk is a volume
// `capstan-disk-<uuid>` (the disk cid), mounted at /warden-cpi-dev/<disk cid> — the disk hint; the
// agent bind-mounts it at /var/vcap/store. Mounts are fixed at container creation, so attach_disk and
// detach_disk re-create the container with the same name, image, volumes, networks, IPs and limits,
// and the new mounts (the agent restarts; jobs come back from the ephemeral volume).
//
// Docker labels are fixed at creation too: set_vm_metadata writes /var/vcap/bosh/vm-metadata.json into
// the VM and every later re-create turns it into `capstan.metadata.<key>` labels; vmMetadata() reads it.
import { randomUUID } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import * as tar from 'tar';
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
import { SETTINGS_PATH } from '../../stemcell/builder.js';
import { DEFAULT_NETWORK, ensureNetwork, isNotFound } from './network.js';

export { SETTINGS_PATH };
export const STEMCELL_REPOSITORY = 'capstan-stemcell';
export const VM_LABEL = 'capstan.vm';
export const DISK_LABEL = 'capstan.disk';
export const METADATA_LABEL_PREFIX = 'capstan.metadata.';
/** Where a persistent disk volume appears in the VM (as in BOSH's warden and docker CPIs). */
export const DISK_MOUNT_DIR = '/warden-cpi-dev';
const EPHEMERAL_MOUNT = '/var/vcap';
const METADATA_PATH = '/var/vcap/bosh/vm-metadata.json';
/** How long runit gets to stop the agent and monit before a re-create or reboot kills them. */
const STOP_TIMEOUT_S = 10;

export interface DockerCpiOptions {
  agent: CpiAgentConfig;
  network?: string; // docker network name, default 'capstan'
  subnet?: string; // used when the network has to be created
  gateway?: string;
  socketPath?: string;
  /**
   * The Docker engine, as in DOCKER_HOST: `unix:///var/run/docker.sock` or `tcp://host:2376` (with tls:
   * HTTPS and a client certificate, as `docker --tlsverify`). One DockerCpi per host; the director picks
   * one per AZ. Default: the local socket.
   */
  host?: string;
  tls?: DockerTls;
  logger?: Logger;
}

/** PEM texts for a TLS-protected engine (DOCKER_CERT_PATH's ca.pem, cert.pem, key.pem). */
export interface DockerTls {
  ca: string;
  cert: string;
  key: string;
}

/** dockerode's connection options for a DOCKER_HOST-style URL. */
export function dockerConnection(host: string | undefined, tls?: DockerTls, socketPath?: string): Docker.DockerOptions | undefined {
  if (!host) return socketPath ? { socketPath } : undefined;
  const url = new URL(host);
  if (url.protocol === 'unix:') return { socketPath: url.pathname };
  if (url.protocol !== 'tcp:' && url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`Unsupported Docker host '${host}' (unix:///path or tcp://host:port)`);
  }
  const secure = tls !== undefined || url.protocol === 'https:';
  return {
    host: url.hostname,
    port: Number(url.port || (secure ? 2376 : 2375)),
    protocol: secure ? 'https' : 'http',
    ...(tls ? { ca: tls.ca, cert: tls.cert, key: tls.key } : {}),
  };
}

/** Everything a VM's container is made from: what a re-create keeps and changes. */
interface VmSpec {
  name: string;
  image: string;
  agentId: string;
  labels: Record<string, string>;
  nanoCpus?: number;
  memory?: number;
  /** The first one is the default-gateway network, given at creation; the others are connected before start. */
  networks: Array<{ name: string; ip?: string }>;
  disks: string[];
}

export class DockerCpi implements DiskCpi {
  private readonly docker: Docker;
  private readonly network: { name: string; subnet: string; gateway: string };
  private readonly log: Logger;

  constructor(private readonly options: DockerCpiOptions) {
    this.docker = new Docker(dockerConnection(options.host, options.tls, options.socketPath));
    const name = options.network ?? DEFAULT_NETWORK.name;
    this.network = { name, subnet: options.subnet ?? DEFAULT_NETWORK.subnet, gateway: options.gateway ?? DEFAULT_NETWORK.gateway };
    this.log = options.logger ?? createLogger('docker-cpi');
  }

  /** The same CPI, logging each call (debug level, secrets redacted) to sink: a task's `cpi` output. */
  withCpiLog(sink: CpiLogSink): DockerCpi {
    return new DockerCpi({ ...this.options, logger: createLogger('docker-cpi', { write: sink }, 'debug') });
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
    if (failed) throw new CpiError(CpiErrorType.CloudError, `Importing stemcell image '${imagePath}' failed: ${failed.errorDetail?.message ?? failed.error}`);
    const cid = `${STEMCELL_REPOSITORY}:${tag}`;
    this.log.info({ stemcell_cid: cid }, 'stemcell imported');
    return cid;
  }

  async deleteStemcell(stemcellCid: string): Promise<void> {
    await ignoreNotFound(this.docker.getImage(stemcellCid).remove({ force: true }));
  }

  /** cloud properties: `cpu` (CPUs, fractions allowed) and `ram` (MB) become cgroup limits. */
  async createVm(
    agentId: string,
    stemcellCid: string,
    cloudProperties: CloudProperties,
    networks: Record<string, NetworkSettings>,
    diskCids: string[], // existing ones are mounted right away, so that attach_disk need not re-create
    env: VmEnv,
  ): Promise<string> {
    const spec: VmSpec = {
      name: `vm-${randomUUID()}`,
      image: stemcellCid,
      agentId,
      labels: { [VM_LABEL]: 'true', 'capstan.agent_id': agentId, 'capstan.stemcell': stemcellCid },
      ...limits(cloudProperties),
      networks: await this.dockerNetworks(networks),
      disks: await this.existingDisks(diskCids),
    };
    const settings = agentSettings(this.options.agent, agentId, spec.name, networks, env);
    for (const disk of spec.disks) settings.disks.persistent![disk] = diskHint(disk);
    try {
      await this.docker.createVolume({ Name: ephemeralVolume(spec.name), Labels: { [VM_LABEL]: spec.name } });
      await this.startContainer(spec, settings);
    } catch (err) {
      await this.deleteVm(spec.name).catch(() => {});
      if (isNotFound(err) && /image/i.test((err as Error).message)) {
        throw new CpiError(CpiErrorType.VMCreationFailed, `Stemcell '${stemcellCid}' not found`);
      }
      throw new CpiError(CpiErrorType.VMCreationFailed, `Creating VM for agent '${agentId}' failed: ${(err as Error).message}`);
    }
    this.log.info({ vm_cid: spec.name, agent_id: agentId, networks: spec.networks }, 'vm created');
    return spec.name;
  }

  async deleteVm(vmCid: string): Promise<void> {
    await ignoreNotFound(this.docker.getContainer(vmCid).remove({ force: true, v: true }));
    await ignoreNotFound(this.docker.getVolume(ephemeralVolume(vmCid)).remove());
    this.log.info({ vm_cid: vmCid }, 'vm deleted');
  }

  async hasVm(vmCid: string): Promise<boolean> {
    return (await this.inspectVm(vmCid)) !== undefined;
  }

  async rebootVm(vmCid: string): Promise<void> {
    await this.requireVm(vmCid);
    await this.docker.getContainer(vmCid).restart({ t: STOP_TIMEOUT_S });
  }

  async setVmMetadata(vmCid: string, metadata: Record<string, string>): Promise<void> {
    await this.requireVm(vmCid);
    await this.docker.getContainer(vmCid).putArchive(await fileArchive(METADATA_PATH, JSON.stringify(metadata), 0o644), { path: '/' });
  }

  /** The last set_vm_metadata of the VM (labels show it from the next re-create on). */
  async vmMetadata(vmCid: string): Promise<Record<string, string> | undefined> {
    const text = await readContainerFile(this.docker.getContainer(vmCid), METADATA_PATH);
    return text === undefined ? undefined : (JSON.parse(text) as Record<string, string>);
  }

  async createDisk(sizeMb: number, _cloudProperties: CloudProperties, _vmLocality: string | null): Promise<string> {
    const cid = `capstan-disk-${randomUUID()}`;
    await this.docker.createVolume({ Name: cid, Labels: { [DISK_LABEL]: 'true', 'capstan.disk.size_mb': String(sizeMb) } });
    return cid;
  }

  async deleteDisk(diskCid: string): Promise<void> {
    await ignoreNotFound(this.docker.getVolume(diskCid).remove());
  }

  async hasDisk(diskCid: string): Promise<boolean> {
    try {
      const volume = await this.docker.getVolume(diskCid).inspect();
      return volume.Labels?.[DISK_LABEL] === 'true';
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async attachDisk(vmCid: string, diskCid: string): Promise<DiskHint> {
    const spec = specOf(await this.requireVm(vmCid));
    if (!(await this.hasDisk(diskCid))) throw diskNotFound(diskCid);
    if (spec.disks.includes(diskCid)) return diskHint(diskCid);
    const users = await this.docker.listContainers({ all: true, filters: { volume: [diskCid] } });
    if (users.length > 0) throw new CpiError(CpiErrorType.CloudError, `Disk '${diskCid}' is attached to VM '${users[0].Names[0]?.slice(1)}'`);
    await this.recreateVm({ ...spec, disks: [...spec.disks, diskCid] }, (s) => ({
      ...s,
      disks: { ...s.disks, persistent: { ...s.disks.persistent, [diskCid]: diskHint(diskCid) } },
    }));
    this.log.info({ vm_cid: vmCid, disk_cid: diskCid }, 'disk attached');
    return diskHint(diskCid);
  }

  async detachDisk(vmCid: string, diskCid: string): Promise<void> {
    const spec = specOf(await this.requireVm(vmCid));
    if (!spec.disks.includes(diskCid)) throw diskNotAttached(vmCid, diskCid);
    await this.recreateVm({ ...spec, disks: spec.disks.filter((d) => d !== diskCid) }, (s) => {
      const persistent = { ...s.disks.persistent };
      delete persistent[diskCid];
      return { ...s, disks: { ...s.disks, persistent } };
    });
    this.log.info({ vm_cid: vmCid, disk_cid: diskCid }, 'disk detached');
  }

  async getDisks(vmCid: string): Promise<string[]> {
    return specOf(await this.requireVm(vmCid)).disks;
  }

  /** Local volumes have no size to change: NotImplemented makes the director migrate to a new disk. */
  async resizeDisk(diskCid: string, _newSizeMb: number): Promise<void> {
    if (!(await this.hasDisk(diskCid))) throw diskNotFound(diskCid);
    throw new CpiError(CpiErrorType.NotImplemented, 'resize_disk is not implemented by the docker CPI (volumes have no size)');
  }

  /** Volume labels are fixed at creation: disk metadata is only logged. */
  async setDiskMetadata(diskCid: string, metadata: Record<string, string>): Promise<void> {
    if (!(await this.hasDisk(diskCid))) throw diskNotFound(diskCid);
    this.log.debug({ disk_cid: diskCid, metadata }, 'disk metadata');
  }

  private async inspectVm(vmCid: string): Promise<Docker.ContainerInspectInfo | undefined> {
    try {
      const info = await this.docker.getContainer(vmCid).inspect();
      return info.Config.Labels?.[VM_LABEL] === 'true' ? info : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async requireVm(vmCid: string): Promise<Docker.ContainerInspectInfo> {
    const info = await this.inspectVm(vmCid);
    if (!info) throw vmNotFound(vmCid);
    return info;
  }

  /** Creates, configures and starts the container; settings (when given) are written before start. */
  private async startContainer(spec: VmSpec, settings?: AgentSettings, metadata?: Record<string, string>): Promise<void> {
    const [first, ...others] = spec.networks;
    const labels = { ...spec.labels };
    for (const [key, value] of Object.entries(metadata ?? {})) labels[`${METADATA_LABEL_PREFIX}${key}`] = String(value);
    const container = await this.docker.createContainer({
      name: spec.name,
      Image: spec.image,
      Cmd: ['runsvdir', '-P', '/etc/service'],
      Hostname: spec.agentId,
      Labels: labels,
      // runsvdir stops every service and exits on SIGHUP
      StopSignal: 'SIGHUP',
      HostConfig: {
        NetworkMode: first.name,
        NanoCpus: spec.nanoCpus,
        Memory: spec.memory,
        Mounts: [
          { Type: 'volume', Source: ephemeralVolume(spec.name), Target: EPHEMERAL_MOUNT },
          ...spec.disks.map((disk) => ({ Type: 'volume' as const, Source: disk, Target: diskHint(disk) })),
        ],
        // the agent bind-mounts persistent disks at /var/vcap/store
        CapAdd: spec.disks.length > 0 ? ['SYS_ADMIN'] : undefined,
      },
      NetworkingConfig: { EndpointsConfig: { [first.name]: endpoint(first.ip) } },
    });
    for (const network of others) {
      await this.docker.getNetwork(network.name).connect({ Container: container.id, EndpointConfig: endpoint(network.ip) });
    }
    if (settings) await container.putArchive(await fileArchive(SETTINGS_PATH, JSON.stringify(settings), 0o600), { path: '/' });
    await container.start();
  }

  /** Stops and removes the container (volumes stay), then creates it again from spec with changed settings. */
  private async recreateVm(spec: VmSpec, changeSettings: (s: AgentSettings) => AgentSettings): Promise<void> {
    const old = this.docker.getContainer(spec.name);
    const settingsText = await readContainerFile(old, SETTINGS_PATH);
    if (settingsText === undefined) throw new CpiError(CpiErrorType.CloudError, `VM '${spec.name}' has no agent settings`);
    const metadataText = await readContainerFile(old, METADATA_PATH);
    await old.stop({ t: STOP_TIMEOUT_S }).catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 304) throw err; // 304: already stopped
    });
    await old.remove({ v: false });
    const metadata = metadataText === undefined ? undefined : (JSON.parse(metadataText) as Record<string, string>);
    await this.startContainer(spec, changeSettings(JSON.parse(settingsText) as AgentSettings), metadata);
  }

  /** Docker networks for the VM's BOSH networks: `cloud_properties.name`, else the CPI's network. */
  private async dockerNetworks(networks: Record<string, NetworkSettings>): Promise<VmSpec['networks']> {
    const entries = Object.entries(networks).filter(([, n]) => n.type !== 'vip');
    // the default-gateway network first: it is the one the container is created with
    entries.sort(([, a], [, b]) => Number(Boolean(b.default?.includes('gateway'))) - Number(Boolean(a.default?.includes('gateway'))));
    const result: VmSpec['networks'] = [];
    for (const [boshName, settings] of entries) {
      const name = typeof settings.cloud_properties?.name === 'string' ? settings.cloud_properties.name : this.network.name;
      if (result.some((n) => n.name === name)) {
        throw new CpiError(CpiErrorType.VMCreationFailed, `Network '${boshName}' uses Docker network '${name}' a second time`);
      }
      await this.requireNetwork(name);
      result.push({ name, ip: settings.type === 'dynamic' ? undefined : settings.ip });
    }
    if (result.length === 0) {
      await this.requireNetwork(this.network.name);
      result.push({ name: this.network.name });
    }
    return result;
  }

  private async requireNetwork(name: string): Promise<void> {
    if (name === this.network.name) {
      await ensureNetwork({ ...this.network, docker: this.docker });
      return;
    }
    try {
      await this.docker.getNetwork(name).inspect();
    } catch (err) {
      if (isNotFound(err)) throw new CpiError(CpiErrorType.NetworkNotFound, `Docker network '${name}' not found`);
      throw err;
    }
  }

  private async existingDisks(diskCids: string[]): Promise<string[]> {
    const found: string[] = [];
    for (const cid of diskCids) if (await this.hasDisk(cid)) found.push(cid);
    return found;
  }

}

function ephemeralVolume(vmCid: string): string {
  return `${vmCid}-vcap`;
}

function diskHint(diskCid: string): string {
  return `${DISK_MOUNT_DIR}/${diskCid}`;
}

function endpoint(ip: string | undefined): Docker.EndpointSettings {
  return ip ? { IPAMConfig: { IPv4Address: ip } } : {};
}

function limits(cloudProperties: CloudProperties): { nanoCpus?: number; memory?: number } {
  const { cpu, ram } = cloudProperties;
  if (cpu !== undefined && !(typeof cpu === 'number' && cpu > 0)) throw new CpiError(CpiErrorType.VMCreationFailed, `cloud_properties.cpu must be a positive number, got ${JSON.stringify(cpu)}`);
  if (ram !== undefined && !(typeof ram === 'number' && ram > 0)) throw new CpiError(CpiErrorType.VMCreationFailed, `cloud_properties.ram must be a positive number of MB, got ${JSON.stringify(ram)}`);
  return {
    nanoCpus: cpu === undefined ? undefined : Math.round(cpu * 1e9),
    memory: ram === undefined ? undefined : Math.round(ram * 1024 * 1024),
  };
}

/** Rebuilds the spec of an existing VM container (for a re-create). */
function specOf(info: Docker.ContainerInspectInfo): VmSpec {
  const labels = Object.fromEntries(Object.entries(info.Config.Labels ?? {}).filter(([k]) => !k.startsWith(METADATA_LABEL_PREFIX)));
  const networks = Object.entries(info.NetworkSettings.Networks ?? {}).map(([name, n]) => ({ name, ip: n.IPAMConfig?.IPv4Address || undefined }));
  const first = info.HostConfig.NetworkMode;
  networks.sort((a, b) => Number(b.name === first) - Number(a.name === first));
  const mounts = (info.HostConfig as { Mounts?: Array<{ Source?: string; Target?: string }> }).Mounts ?? [];
  return {
    name: info.Name.replace(/^\//, ''),
    image: info.Config.Image,
    agentId: info.Config.Hostname,
    labels,
    nanoCpus: info.HostConfig.NanoCpus || undefined,
    memory: info.HostConfig.Memory || undefined,
    networks,
    disks: mounts.filter((m) => m.Target?.startsWith(`${DISK_MOUNT_DIR}/`)).map((m) => m.Source!),
  };
}

/** A tar stream holding one file with its parent directories (the settings: mode 0600, they carry the agent's mbus key). */
async function fileArchive(path: string, content: string, mode: number): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'capstan-settings-'));
  const relative = path.slice(1);
  await mkdir(join(dir, dirname(relative)), { recursive: true });
  await writeFile(join(dir, relative), content, { mode });
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

/** A file's text from a container (running or not); undefined when it does not exist. */
async function readContainerFile(container: Docker.Container, path: string): Promise<string | undefined> {
  let stream: NodeJS.ReadableStream;
  try {
    stream = await container.getArchive({ path });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  let content = '';
  const parser = new tar.Parser({ onReadEntry: (entry) => entry.on('data', (d: Buffer) => (content += d.toString())) });
  await new Promise<void>((resolve, reject) => {
    stream.pipe(parser).on('end', resolve).on('error', reject);
  });
  return content;
}

async function ignoreNotFound(promise: Promise<unknown>): Promise<void> {
  try {
    await promise;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}
