import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import * as tar from 'tar';
import { DockerCpi, SETTINGS_PATH, VM_LABEL } from '../../src/cpi/docker/docker-cpi.js';
import { ensureNetwork, removeNetwork } from '../../src/cpi/docker/network.js';
import type { AgentSettings } from '../../src/common/protocol.js';
import { createLogger } from '../../src/common/logging.js';
import { buildTinyRootfs } from './tiny-rootfs.js';

function dockerAvailable(): boolean {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

const skip = dockerAvailable() ? false : 'no Docker engine answers (`docker info` failed)';
// A network of the test's own, so the test can run next to a real `capstan` environment.
const suffix = process.pid % 200;
const NETWORK = { name: `capstan-test-${process.pid}`, subnet: `10.246.${suffix}.0/24`, gateway: `10.246.${suffix}.1` };
const VM_IP = `10.246.${suffix}.10`;

const docker = new Docker();
let workDir: string;
let cpi: DockerCpi;
let stemcellCid: string | undefined;

const agent = {
  mbus: `nats://${NETWORK.gateway}:4222`,
  blobstore: { provider: 'dav', options: { endpoint: `https://${NETWORK.gateway}:25250`, user: 'agent', password: 'blob-secret' } },
};

before(async () => {
  if (skip) return;
  workDir = mkdtempSync(join(tmpdir(), 'capstan-docker-cpi-'));
  cpi = new DockerCpi({ agent, network: NETWORK.name, subnet: NETWORK.subnet, gateway: NETWORK.gateway, logger: createLogger('docker-cpi', undefined, 'warn') });
  stemcellCid = await cpi.createStemcell(buildTinyRootfs(workDir), {});
});

after(async () => {
  if (skip) return;
  const leftovers = await docker.listContainers({ all: true, filters: { network: [NETWORK.name] } });
  for (const c of leftovers) await docker.getContainer(c.Id).remove({ force: true });
  if (stemcellCid) await cpi.deleteStemcell(stemcellCid);
  await removeNetwork(NETWORK.name);
  rmSync(workDir, { recursive: true, force: true });
});

async function readFileFromContainer(containerId: string, path: string): Promise<{ content: string; mode: number }> {
  const stream = await docker.getContainer(containerId).getArchive({ path });
  let content = '';
  let mode = 0;
  const parser = new tar.Parser({
    onReadEntry: (entry) => {
      mode = entry.mode ?? 0;
      entry.on('data', (d: Buffer) => (content += d.toString()));
    },
  });
  await new Promise<void>((resolve, reject) => {
    stream.pipe(parser).on('end', resolve).on('error', reject);
  });
  return { content, mode };
}

test('createStemcell imports the image under capstan-stemcell:<uuid>', { skip }, async () => {
  assert.match(stemcellCid!, /^capstan-stemcell:[0-9a-f-]{36}$/);
  const image = await docker.getImage(stemcellCid!).inspect();
  assert.ok(image.Id);
});

test('createVm starts a container with the static IP and the agent settings; deleteVm removes it', { skip }, async () => {
  const networks = {
    default: { type: 'manual' as const, ip: VM_IP, netmask: '255.255.255.0', gateway: NETWORK.gateway, default: ['dns', 'gateway'] },
  };
  const env = { bosh: { mbus: { cert: { ca: 'CA', certificate: 'CERT', private_key: 'KEY' } }, group: 'capstan-nginx' } };
  const vmCid = await cpi.createVm('agent-0001', stemcellCid!, {}, networks, [], env);

  const info = await docker.getContainer(vmCid).inspect();
  assert.equal(info.State.Running, true);
  assert.equal(info.Config.Hostname, 'agent-0001');
  assert.equal(info.Config.Labels[VM_LABEL], 'true');
  assert.deepEqual(info.Config.Cmd, ['runsvdir', '-P', '/etc/service']);
  assert.equal(info.NetworkSettings.Networks[NETWORK.name].IPAddress, VM_IP);
  assert.equal(info.HostConfig.Privileged, false);

  const settingsFile = await readFileFromContainer(vmCid, SETTINGS_PATH);
  assert.equal(settingsFile.mode & 0o777, 0o600, 'settings carry a private key: root-only');
  const settings = JSON.parse(settingsFile.content) as AgentSettings;
  assert.deepEqual(settings, {
    agent_id: 'agent-0001',
    blobstore: agent.blobstore,
    disks: { persistent: {} },
    env,
    networks,
    ntp: [],
    mbus: agent.mbus,
    vm: { name: vmCid },
  });

  assert.equal(await cpi.hasVm(vmCid), true);
  await cpi.deleteVm(vmCid);
  assert.equal(await cpi.hasVm(vmCid), false);
  await cpi.deleteVm(vmCid); // deleting a deleted VM is not an error
});

test('hasVm is false for an unknown VM', { skip }, async () => {
  assert.equal(await cpi.hasVm('0123456789ab0123456789ab'), false);
});

test('ensureNetwork is idempotent and refuses a different subnet under the same name', { skip }, async () => {
  const first = await ensureNetwork(NETWORK);
  const again = await ensureNetwork(NETWORK);
  assert.equal(again.id, first.id);
  await assert.rejects(ensureNetwork({ ...NETWORK, subnet: '10.247.0.0/24', gateway: '10.247.0.1' }), /exists with subnet/);
});

test('deleteStemcell removes the image and tolerates a second delete', { skip }, async () => {
  const cid = await cpi.createStemcell(join(workDir, 'image'), {});
  await cpi.deleteStemcell(cid);
  await assert.rejects(docker.getImage(cid).inspect(), (err: { statusCode?: number }) => err.statusCode === 404);
  await cpi.deleteStemcell(cid);
});
