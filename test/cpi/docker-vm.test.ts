// The Docker CPI's VMs beyond create/delete: persistent disks as volumes that outlive containers,
// cgroup limits from cloud properties, several networks, reboot, and metadata as labels.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import type { NetworkSettings } from '../../src/common/protocol.js';
import { createLogger } from '../../src/common/logging.js';
import { CpiError, CpiErrorType } from '../../src/cpi/cpi.js';
import { DockerCpi, dockerConnection, METADATA_LABEL_PREFIX } from '../../src/cpi/docker/docker-cpi.js';
import { ensureNetwork } from '../../src/cpi/docker/network.js';
import { dockerAvailable, removeDockerLeftovers, testNetwork } from './support/implementations.js';
import { buildTinyRootfs } from './tiny-rootfs.js';

const execFileP = promisify(execFile);
const skip = dockerAvailable() ? false : 'no Docker engine answers (`docker info` failed)';
const NET_A = testNetwork('vm-a', 101);
const NET_B = testNetwork('vm-b', 102);

const docker = new Docker();
let dir: string;
let cpi: DockerCpi;
let stemcellCid: string;
const disks: string[] = [];

const manual = (net: typeof NET_A, host: number, extra: Partial<NetworkSettings> = {}): NetworkSettings => ({
  type: 'manual',
  ip: `${net.prefix}.${host}`,
  netmask: '255.255.255.0',
  gateway: net.gateway,
  ...extra,
});
const defaultNetwork = (host: number) => ({ default: manual(NET_A, host, { default: ['dns', 'gateway'] }) });

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'capstan-docker-vm-'));
  cpi = new DockerCpi({
    agent: { mbus: `nats://${NET_A.gateway}:4222`, blobstore: { provider: 'dav', options: {} } },
    network: NET_A.name,
    subnet: NET_A.subnet,
    gateway: NET_A.gateway,
    logger: createLogger('docker-cpi', undefined, 'warn'),
  });
  await ensureNetwork(NET_B);
  stemcellCid = await cpi.createStemcell(buildTinyRootfs(dir), {});
});

after(async () => {
  if (skip) return;
  await removeDockerLeftovers(NET_A.name);
  await removeDockerLeftovers(NET_B.name);
  for (const disk of disks) await cpi.deleteDisk(disk).catch(() => {});
  await cpi.deleteStemcell(stemcellCid);
  rmSync(dir, { recursive: true, force: true });
});

async function sh(vmCid: string, script: string): Promise<string> {
  return (await execFileP('docker', ['exec', vmCid, 'sh', '-c', script])).stdout.trim();
}

test("a persistent disk's file survives the VM being recreated", { skip }, async () => {
  const first = await cpi.createVm('agent-disk-1', stemcellCid, {}, defaultNetwork(20), [], {});
  const diskCid = await cpi.createDisk(1024, {}, first);
  disks.push(diskCid);
  await sh(first, 'echo ephemeral > /var/vcap/bosh/before-attach');
  await cpi.setVmMetadata(first, { deployment: 'd', name: 'db/0' });

  const hint = await cpi.attachDisk(first, diskCid);
  assert.equal(hint, `/warden-cpi-dev/${diskCid}`);
  // attaching re-created the container: same VM cid, IP and ephemeral data, metadata now as labels
  const info = await docker.getContainer(first).inspect();
  assert.equal(info.State.Running, true);
  assert.equal(info.NetworkSettings.Networks[NET_A.name].IPAddress, `${NET_A.prefix}.20`);
  assert.equal(await sh(first, 'cat /var/vcap/bosh/before-attach'), 'ephemeral');
  assert.equal(info.Config.Labels[`${METADATA_LABEL_PREFIX}name`], 'db/0');
  const settings = JSON.parse(await sh(first, 'cat /var/vcap/bosh/warden-cpi-agent-env.json'));
  assert.deepEqual(settings.disks.persistent, { [diskCid]: hint });

  await sh(first, `echo precious > ${hint}/data.txt`);
  await cpi.detachDisk(first, diskCid);
  await cpi.deleteVm(first);
  assert.equal(await cpi.hasDisk(diskCid), true, 'the disk outlives its VM');

  const second = await cpi.createVm('agent-disk-2', stemcellCid, {}, defaultNetwork(21), [], {});
  await cpi.attachDisk(second, diskCid);
  assert.equal(await sh(second, `cat /warden-cpi-dev/${diskCid}/data.txt`), 'precious');
  assert.deepEqual(await cpi.getDisks(second), [diskCid]);
  await cpi.deleteVm(second);
});

test('a disk passed to create_vm is mounted at once, so attach_disk does not re-create', { skip }, async () => {
  const diskCid = await cpi.createDisk(512, {}, null);
  disks.push(diskCid);
  const vmCid = await cpi.createVm('agent-disk-3', stemcellCid, {}, defaultNetwork(22), [diskCid], {});
  const startedAt = (await docker.getContainer(vmCid).inspect()).State.StartedAt;
  assert.equal(await cpi.attachDisk(vmCid, diskCid), `/warden-cpi-dev/${diskCid}`);
  assert.equal((await docker.getContainer(vmCid).inspect()).State.StartedAt, startedAt);
  await cpi.deleteVm(vmCid);
});

test('cpu: 1, ram: 512 give the VM those cgroup limits', { skip }, async () => {
  const vmCid = await cpi.createVm('agent-limits', stemcellCid, { cpu: 1, ram: 512 }, defaultNetwork(30), [], {});
  const { HostConfig } = await docker.getContainer(vmCid).inspect();
  assert.equal(HostConfig.NanoCpus, 1_000_000_000);
  assert.equal(HostConfig.Memory, 512 * 1024 * 1024);
  const limit = await sh(vmCid, 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max');
  assert.equal(Number(limit), 512 * 1024 * 1024, 'seen from inside the VM');
  await cpi.deleteVm(vmCid);
  await assert.rejects(
    cpi.createVm('agent-bad', stemcellCid, { ram: 'lots' }, defaultNetwork(31), [], {}),
    (err: CpiError) => err.type === CpiErrorType.VMCreationFailed && /ram must be a positive number/.test(err.message),
  );
});

test('two networks give the VM two addresses', { skip }, async () => {
  const networks = {
    a: manual(NET_A, 40, { default: ['dns', 'gateway'] }),
    b: manual(NET_B, 40, { cloud_properties: { name: NET_B.name } }),
  };
  const vmCid = await cpi.createVm('agent-two-nets', stemcellCid, {}, networks, [], {});
  const info = await docker.getContainer(vmCid).inspect();
  assert.equal(info.HostConfig.NetworkMode, NET_A.name, 'the default-gateway network first');
  assert.equal(info.NetworkSettings.Networks[NET_A.name].IPAddress, `${NET_A.prefix}.40`);
  assert.equal(info.NetworkSettings.Networks[NET_B.name].IPAddress, `${NET_B.prefix}.40`);
  const addresses = await sh(vmCid, 'cat /proc/net/fib_trie');
  assert.ok(addresses.includes(`${NET_A.prefix}.40`) && addresses.includes(`${NET_B.prefix}.40`), 'both inside the VM');
  await cpi.deleteVm(vmCid);

  await assert.rejects(
    cpi.createVm('agent-no-net', stemcellCid, {}, { x: manual(NET_A, 41, { cloud_properties: { name: 'capstan-no-such-network' } }) }, [], {}),
    (err: CpiError) => err.type === CpiErrorType.NetworkNotFound,
  );
});

test('reboot_vm restarts the container with its address', { skip }, async () => {
  const vmCid = await cpi.createVm('agent-reboot', stemcellCid, {}, defaultNetwork(50), [], {});
  const before = await docker.getContainer(vmCid).inspect();
  await cpi.rebootVm(vmCid);
  const after = await docker.getContainer(vmCid).inspect();
  assert.equal(after.State.Running, true);
  assert.notEqual(after.State.StartedAt, before.State.StartedAt);
  assert.equal(after.NetworkSettings.Networks[NET_A.name].IPAddress, `${NET_A.prefix}.50`);
  await cpi.deleteVm(vmCid);
  await assert.rejects(cpi.rebootVm(vmCid), (err: CpiError) => err.type === CpiErrorType.VMNotFound);
});

test('delete_vm removes the ephemeral volume but not the disks', { skip }, async () => {
  const vmCid = await cpi.createVm('agent-volumes', stemcellCid, {}, defaultNetwork(60), [], {});
  const diskCid = await cpi.createDisk(100, {}, vmCid);
  disks.push(diskCid);
  await cpi.attachDisk(vmCid, diskCid);
  await cpi.deleteVm(vmCid);
  const names = ((await docker.listVolumes()).Volumes ?? []).map((v) => v.Name);
  assert.ok(!names.includes(`${vmCid}-vcap`));
  assert.ok(names.includes(diskCid));
});

test('DOCKER_HOST-style URLs choose the engine: a unix socket, or TCP with TLS client certificates', async () => {
  assert.deepEqual(dockerConnection('unix:///var/run/docker.sock'), { socketPath: '/var/run/docker.sock' });
  assert.deepEqual(dockerConnection('tcp://10.0.0.5:2376', { ca: 'CA', cert: 'CERT', key: 'KEY' }), {
    host: '10.0.0.5',
    port: 2376,
    protocol: 'https',
    ca: 'CA',
    cert: 'CERT',
    key: 'KEY',
  });
  assert.deepEqual(dockerConnection('tcp://docker-az2'), { host: 'docker-az2', port: 2375, protocol: 'http' });
  assert.equal(dockerConnection(undefined), undefined);
  assert.throws(() => dockerConnection('ssh://host'), /Unsupported Docker host/);
});

test('a DockerCpi reaches its engine through the host URL', { skip }, async () => {
  const viaUrl = new DockerCpi({
    agent: { mbus: 'nats://127.0.0.1:4222', blobstore: { provider: 'dav', options: {} } },
    host: 'unix:///var/run/docker.sock',
    network: NET_A.name,
    subnet: NET_A.subnet,
    gateway: NET_A.gateway,
    logger: createLogger('docker-cpi', undefined, 'warn'),
  });
  const vmCid = await viaUrl.createVm('agent-url', stemcellCid, {}, defaultNetwork(70), [], {});
  assert.equal(await cpi.hasVm(vmCid), true, 'the same engine');
  await viaUrl.deleteVm(vmCid);
});
