// Persistent disks on the Docker CPI, as a user runs them: a disk is a Docker volume, and attaching or
// detaching one re-creates the container (its agent restarts). A file written on /var/vcap/store
// survives --recreate and a resize (data migrated to a new volume); deleting the deployment orphans
// the volume and clean-up --all removes it.
//
// Its own environment (CAPSTAN_HOME, ports, a Docker network on a /24 of its own), like test/e2e.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const REPO = join(import.meta.dirname, '..', '..', '..');
const work = mkdtempSync(join(tmpdir(), 'capstan-docker-disks-'));
const home = join(work, 'home');
const slot = 1 + ((process.pid + 97) % 200);
const NETWORK = `capstan-disks-${slot}`;
const SUBNET_PREFIX = `10.246.${slot}.`;
const PORTS = { director: 27000 + slot * 4, nats: 27001 + slot * 4, blobstore: 27002 + slot * 4 };
const DEPLOYMENT = 'keeper';

const env: NodeJS.ProcessEnv = { ...process.env, CAPSTAN_HOME: home, CAPSTAN_CACHE: process.env.CAPSTAN_CACHE ?? join(homedir(), '.capstan', 'cache') };
for (const name of Object.keys(env)) {
  if (/^(BOSH|CAPSTAN)_(ENVIRONMENT|CA_CERT|CLIENT|CLIENT_SECRET|DEPLOYMENT)$/.test(name)) delete env[name];
}

const skip = spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0 ? false : 'no Docker engine answers (`docker info` failed)';

function capstan(...args: string[]): string {
  const result = spawnSync(join(REPO, 'bin', 'capstan'), args, { env, encoding: 'utf8', timeout: 15 * 60_000 });
  assert.equal(result.status, 0, `capstan ${args.join(' ')} failed (exit ${result.status}):\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

const dockerExec = (container: string, script: string) => execFileSync('docker', ['exec', container, 'bash', '-c', script], { encoding: 'utf8' });
const containersOnNetwork = () => execFileSync('docker', ['ps', '-aq', '--filter', `network=${NETWORK}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
const volumeExists = (name: string) => spawnSync('docker', ['volume', 'inspect', name], { stdio: 'ignore' }).status === 0;

function writeFiles(root: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
}

/** A release without packages: `keeper` runs a shell loop under monit. */
function writeRelease(dir: string): void {
  writeFiles(dir, {
    'config/final.yml': 'name: keeper\n',
    'jobs/keeper/spec': 'name: keeper\ntemplates:\n  ctl.erb: bin/ctl\npackages: []\n',
    'jobs/keeper/monit': [
      'check process keeper',
      '  with pidfile /var/vcap/sys/run/keeper/keeper.pid',
      '  start program "/var/vcap/jobs/keeper/bin/ctl start"',
      '  stop program "/var/vcap/jobs/keeper/bin/ctl stop"',
      '  group vcap',
      '',
    ].join('\n'),
    'jobs/keeper/templates/ctl.erb': [
      '#!/bin/bash',
      'run=/var/vcap/sys/run/keeper',
      'case "$1" in',
      '  start) mkdir -p $run; nohup bash -c "while true; do sleep 1; done" >/dev/null 2>&1 & echo $! > $run/keeper.pid ;;',
      '  stop) kill "$(cat $run/keeper.pid)" 2>/dev/null; rm -f $run/keeper.pid ;;',
      'esac',
      '',
    ].join('\n'),
    'packages/.keep': '',
    'src/.keep': '',
  });
}

const CLOUD_CONFIG = `
azs: [{name: z1}]
vm_types: [{name: default}]
networks:
- name: default
  type: manual
  subnets:
  - range: ${SUBNET_PREFIX}0/24
    gateway: ${SUBNET_PREFIX}1
    azs: [z1]
    reserved: [${SUBNET_PREFIX}1 - ${SUBNET_PREFIX}9]
compilation: {workers: 1, network: default, az: z1, vm_type: default}
`;

function deploy(size: number, ...flags: string[]): string {
  const file = join(work, 'manifest.yml');
  writeFileSync(file, `
name: ${DEPLOYMENT}
releases: [{name: keeper, version: latest}]
stemcells: [{alias: default, os: debian-bookworm, version: latest}]
update: {canaries: 1, max_in_flight: 1, canary_watch_time: 1000-30000, update_watch_time: 1000-30000}
instance_groups:
- name: keeper
  instances: 1
  azs: [z1]
  vm_type: default
  stemcell: default
  persistent_disk: ${size}
  networks: [{name: default}]
  jobs: [{name: keeper, release: keeper}]
`);
  return capstan('-n', '-d', DEPLOYMENT, 'deploy', file, ...flags);
}

interface Instance {
  vm_cid: string;
  disk_cids: string;
  process_state: string;
}

function instance(): Instance {
  const rows = JSON.parse(capstan('--json', '-d', DEPLOYMENT, 'instances', '--details')).Tables[0].Rows as Instance[];
  assert.equal(rows.length, 1);
  return rows[0];
}

const orphaned = () => (JSON.parse(capstan('--json', 'disks', '--orphaned')).Tables[0].Rows as Array<{ disk_cid: string }>).map((r) => r.disk_cid);

function cleanUp(): void {
  spawnSync(join(REPO, 'bin', 'capstan'), ['down'], { env, stdio: 'ignore' });
  for (const id of containersOnNetwork()) spawnSync('docker', ['rm', '-f', id], { stdio: 'ignore' });
  spawnSync('docker', ['network', 'rm', NETWORK], { stdio: 'ignore' });
}

before(() => {
  if (skip) return;
  cleanUp();
  capstan('up', '--cpi', 'docker', '--network', NETWORK, '--subnet', `${SUBNET_PREFIX}0/24`,
    '--director-port', String(PORTS.director), '--nats-port', String(PORTS.nats), '--blobstore-port', String(PORTS.blobstore));
});

after(() => {
  if (skip) return;
  cleanUp();
  rmSync(work, { recursive: true, force: true });
});

test('persistent disks on Docker VMs', { skip }, async (t) => {
  const volumes: string[] = [];
  await t.test('deploy with persistent_disk: the volume is mounted on /var/vcap/store', () => {
    capstan('upload-stemcell', capstan('stemcell', 'build').trim());
    writeFileSync(join(work, 'cloud.yml'), CLOUD_CONFIG);
    capstan('-n', 'update-cloud-config', join(work, 'cloud.yml'));
    writeRelease(join(work, 'release'));
    capstan('create-release', '--dir', join(work, 'release'), '--tarball', join(work, 'keeper.tgz'));
    capstan('upload-release', join(work, 'keeper.tgz'));
    deploy(1024);
    const { vm_cid: vm, disk_cids: disk, process_state: state } = instance();
    assert.equal(state, 'running');
    assert.match(disk, /\S/, 'the instance has a disk');
    volumes.push(disk.trim());
    dockerExec(vm, 'echo precious > /var/vcap/store/data.txt');
  });

  await t.test('--recreate: a new container with the same volume and the data', () => {
    const before = instance();
    deploy(1024, '--recreate');
    const now = instance();
    assert.equal(now.disk_cids, before.disk_cids);
    assert.equal(now.process_state, 'running');
    assert.equal(dockerExec(now.vm_cid, 'cat /var/vcap/store/data.txt'), 'precious\n');
  });

  await t.test('a bigger disk: the data migrates to a new volume, the old one is orphaned', () => {
    const before = instance();
    deploy(2048);
    const now = instance();
    assert.notEqual(now.disk_cids, before.disk_cids);
    assert.equal(now.process_state, 'running');
    assert.equal(dockerExec(now.vm_cid, 'cat /var/vcap/store/data.txt'), 'precious\n');
    assert.ok(orphaned().includes(before.disk_cids.trim()));
    volumes.push(now.disk_cids.trim());
  });

  await t.test('delete-deployment orphans the volume; clean-up --all deletes every orphaned volume', () => {
    capstan('-n', '-d', DEPLOYMENT, 'delete-deployment');
    assert.deepEqual(containersOnNetwork(), []);
    assert.deepEqual(orphaned().sort(), [...volumes].sort());
    for (const volume of volumes) assert.ok(volumeExists(volume), `volume ${volume} is kept while orphaned`);
    capstan('-n', 'clean-up', '--all');
    assert.deepEqual(orphaned(), []);
    for (const volume of volumes) assert.equal(volumeExists(volume), false, `volume ${volume} deleted`);
  });
});
