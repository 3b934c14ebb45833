// Builds the real stemcell from the cached debootstrap rootfs and boots it as a Docker VM. Skipped when
// no base rootfs is cached yet (`capstan stemcell build` or `capstan up` makes one) or Docker is absent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';
import { homedir, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { buildStemcell, STEMCELL_NAME } from '../../src/stemcell/builder.js';
import { baseRootfsKey, baseRootfsPath, DEBIAN_SUITE, ensureBaseRootfs } from '../../src/stemcell/rootfs.js';
import { readStemcellTarball } from '../../src/stemcell/tarball.js';
import { DockerCpi } from '../../src/cpi/docker/docker-cpi.js';
import { removeNetwork } from '../../src/cpi/docker/network.js';
import { fileDigest } from '../../src/common/digest.js';
import { createLogger } from '../../src/common/logging.js';

const execFileP = promisify(execFile);
const sharedCache = join(process.env.CAPSTAN_HOME ?? join(homedir(), '.capstan'), 'cache');
const baseName = `base-rootfs-${DEBIAN_SUITE}-${baseRootfsKey()}.tar`;

function dockerAvailable(): boolean {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

const skipBuild = existsSync(join(sharedCache, baseName)) ? false : `no cached base rootfs at ${join(sharedCache, baseName)}`;
const skipBoot = skipBuild || (dockerAvailable() ? false : 'no Docker engine answers (`docker info` failed)');

// Stands in for the agent bundle: proves runit starts it with the stemcell's Node.
const FAKE_AGENT = "console.log('fake agent up', process.version, process.argv.slice(2).join(' ')); setInterval(() => {}, 1000);\n";

let dir: string;
let cacheDir: string;
let built: { tarballPath: string; version: string } | undefined;

before(async () => {
  if (skipBuild) return;
  dir = mkdtempSync(join(tmpdir(), 'capstan-stemcell-build-'));
  cacheDir = join(dir, 'cache');
  mkdirSync(cacheDir);
  // reuse the shared base rootfs instead of running debootstrap again
  for (const name of [baseName, `${baseName}.sha256`]) symlinkSync(join(sharedCache, name), join(cacheDir, name));
  writeFileSync(join(dir, 'agent.cjs'), FAKE_AGENT);
  built = await buildStemcell({ cacheDir, agentBundlePath: join(dir, 'agent.cjs') });
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('builds a BOSH-format stemcell tarball', { skip: skipBuild }, async () => {
  const out = join(dir, 'read');
  const manifest = await readStemcellTarball(built!.tarballPath, out);
  assert.equal(manifest.name, STEMCELL_NAME);
  assert.equal(manifest.version, built!.version);
  assert.equal(manifest.operating_system, 'debian-bookworm');
  assert.equal(manifest.api_version, 3);
  assert.deepEqual(manifest.stemcell_formats, ['docker-tgz']);
  assert.deepEqual(manifest.cloud_properties, {});
  assert.equal(manifest.sha1, await fileDigest(join(out, 'image'), 'sha1'));
});

test('stemcell.MF records the pinned suite, the base rootfs and every installed package with its version', { skip: skipBuild }, async () => {
  const build = (parse(readFileSync(join(dir, 'read', 'stemcell.MF'), 'utf8')) as { build: Record<string, any> }).build;
  assert.equal(build.suite, 'bookworm');
  assert.equal(build.mirror, 'http://deb.debian.org/debian');
  assert.equal(build.base_rootfs_sha256, readFileSync(join(sharedCache, `${baseName}.sha256`), 'utf8').trim());
  assert.equal(build.agent_sha256, await fileDigest(join(dir, 'agent.cjs'), 'sha256'));
  assert.equal(build.content_version, built!.version);
  for (const name of ['runit', 'monit', 'nodejs', 'openssh-server']) {
    assert.ok(build.packages.some((p: string) => new RegExp(`^${name} \\S+$`).test(p)), `${name} with its version`);
  }
});

test('--version names the stemcell, and the same inputs give the same image bytes', { skip: skipBuild }, async () => {
  const named = await buildStemcell({ cacheDir, agentBundlePath: join(dir, 'agent.cjs'), version: '7.1' });
  assert.equal(named.version, '7.1');
  assert.match(named.tarballPath, /bosh-capstan-docker-debian-bookworm-7\.1\.tgz$/);
  const manifest = await readStemcellTarball(named.tarballPath, join(dir, 'read-7.1'));
  assert.equal(manifest.version, '7.1');
  assert.equal(manifest.operating_system, 'debian-bookworm');
  const sha1 = manifest.sha1;
  // the same inputs give the same image bytes
  rmSync(named.tarballPath);
  const again = await buildStemcell({ cacheDir, agentBundlePath: join(dir, 'agent.cjs'), version: '7.1' });
  assert.equal((await readStemcellTarball(again.tarballPath, join(dir, 'read-7.1-again'))).sha1, sha1);
});

test('--os must name a supported operating system, --version a plain version', async () => {
  const options = { cacheDir: join(tmpdir(), 'unused'), agentBundlePath: '/nonexistent' };
  await assert.rejects(buildStemcell({ ...options, os: 'windows2019' }), /Unsupported stemcell operating system 'windows2019' \(supported: debian-bookworm, debian-trixie\)/);
  await assert.rejects(buildStemcell({ ...options, version: '../1' }), /Invalid stemcell version/);
});

test('reuses the cached stemcell, and a changed agent gives a new version', { skip: skipBuild }, async () => {
  const again = await buildStemcell({ cacheDir, agentBundlePath: join(dir, 'agent.cjs'), outputPath: join(dir, 'copy.tgz') });
  assert.equal(again.version, built!.version);
  assert.equal(again.tarballPath, join(dir, 'copy.tgz'));
  writeFileSync(join(dir, 'agent2.cjs'), `${FAKE_AGENT}// changed\n`);
  const changed = await buildStemcell({ cacheDir, agentBundlePath: join(dir, 'agent2.cjs') });
  assert.notEqual(changed.version, built!.version);
});

test('boots as a Docker VM: runit runs the agent on Node 18, monit starts once enabled', { skip: skipBoot }, async () => {
  await bootAndCheck(join(dir, 'read', 'image'), 18);
});

const skipTrixie = (hasDebootstrap() ? false : 'debootstrap is not installed') || (dockerAvailable() ? false : 'no Docker engine answers (`docker info` failed)');

test('--os debian-trixie builds a trixie stemcell that boots: runit runs the agent on Node 20, monit starts', { skip: skipTrixie }, async () => {
  const os = 'debian-trixie';
  const work = mkdtempSync(join(tmpdir(), 'capstan-stemcell-trixie-'));
  try {
    // the trixie base rootfs is made once per machine, in the shared cache (debootstrap, a minute or two)
    const base = baseRootfsPath(sharedCache, os);
    await ensureBaseRootfs(sharedCache, (line) => console.log(line), os);
    mkdirSync(join(work, 'cache'));
    for (const path of [base, `${base}.sha256`, `${base}.packages`]) if (existsSync(path)) symlinkSync(path, join(work, 'cache', basename(path)));
    writeFileSync(join(work, 'agent.cjs'), FAKE_AGENT);
    const trixie = await buildStemcell({ cacheDir: join(work, 'cache'), agentBundlePath: join(work, 'agent.cjs'), os });
    const manifest = await readStemcellTarball(trixie.tarballPath, join(work, 'read'));
    assert.equal(manifest.name, 'bosh-capstan-docker-debian-trixie');
    assert.equal(manifest.operating_system, os);
    assert.equal((parse(readFileSync(join(work, 'read', 'stemcell.MF'), 'utf8')) as { build: { suite: string } }).build.suite, 'trixie');
    await bootAndCheck(join(work, 'read', 'image'), 20);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

function hasDebootstrap(): boolean {
  try {
    execFileSync('which', ['debootstrap'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Boots the stemcell image as a Docker VM and checks what the agent relies on: runit, Node, vcap, monit. */
async function bootAndCheck(image: string, nodeMajor: number): Promise<void> {
  const network = { name: `capstan-sc-test-${process.pid}`, subnet: `10.246.${200 + (process.pid % 50)}.0/24`, gateway: `10.246.${200 + (process.pid % 50)}.1` };
  const cpi = new DockerCpi({
    agent: { mbus: `nats://${network.gateway}:4222`, blobstore: { provider: 'dav', options: {} } },
    network: network.name,
    subnet: network.subnet,
    gateway: network.gateway,
    logger: createLogger('docker-cpi', undefined, 'warn'),
  });
  const stemcellCid = await cpi.createStemcell(image, {});
  let vmCid: string | undefined;
  const sh = async (script: string) => (await execFileP('docker', ['exec', vmCid!, 'sh', '-c', script])).stdout;
  try {
    vmCid = await cpi.createVm('agent-sc', stemcellCid, {}, { default: { type: 'manual', ip: network.gateway.replace(/\.1$/, '.20') } }, [], {});
    const log = await sh('for i in $(seq 1 50); do grep -q "fake agent up" /var/vcap/bosh/log/current 2>/dev/null && break; sleep 0.2; done; cat /var/vcap/bosh/log/current');
    assert.match(log, new RegExp(`fake agent up v${nodeMajor}\\.\\d+\\.\\d+ -P ubuntu -C /var/vcap/bosh/agent\\.json`));
    assert.match(await sh('id vcap'), /uid=1000\(vcap\) gid=1000\(vcap\)/);
    assert.equal((await sh('stat -c %a /var/vcap/bosh/etc/monitrc')).trim(), '700');
    // monit's service is linked but down until the agent starts it
    assert.match(await sh('for i in $(seq 1 50); do sv status /etc/service/monit | grep -q ^down && break; sleep 0.1; done; sv status /etc/service/monit || true'), /^down: \/etc\/service\/monit/);
    // what the agent does in runit mode: write monit.user, start the service, talk to monit
    const summary = await sh(
      'echo vcap:pw > /var/vcap/monit/monit.user && sv start /etc/service/monit && ' +
        'for i in $(seq 1 50); do monit -c /var/vcap/bosh/etc/monitrc summary >/tmp/s 2>&1 && break; sleep 0.2; done; cat /tmp/s',
    );
    assert.match(summary, /Monit 5\.\d+/);
    assert.match(summary, /agent-sc\s+OK\s+System/);
  } finally {
    if (vmCid) await cpi.deleteVm(vmCid);
    await cpi.deleteStemcell(stemcellCid);
    await removeNetwork(network.name);
  }
}
