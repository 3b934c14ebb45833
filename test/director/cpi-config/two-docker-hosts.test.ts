// cpi-config with two Docker hosts through the real director (`capstan up --cpi docker`): AZ z1 uses a
// docker CPI on the local engine's unix socket, AZ z2 one on `tcp://127.0.0.1:<port>` with TLS (a
// TLS-terminating proxy requiring a client certificate, standing in for a second Docker host). The
// stemcell goes to every CPI, a two-instance deployment runs one VM per AZ with its agent answering,
// z2's VM was made through the TLS host, and delete-deployment / delete-stemcell clean up both.
//
// Its own CAPSTAN_HOME, ports and Docker network (like test/e2e), so it runs beside other environments.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startTlsDockerHost, type TlsDockerHost } from '../../cpi/support/tls-docker-host.js';
import { freePort, writeReleaseDir } from '../../support/dummy-env.js';

const REPO = join(import.meta.dirname, '..', '..', '..');
const work = mkdtempSync(join(tmpdir(), 'capstan-two-docker-hosts-'));
const home = join(work, 'home');
const slot = 1 + ((process.pid + 97) % 200);
const NETWORK = `capstan-hosts-${slot}`;
const PREFIX = `10.247.${slot}.`;

const env: NodeJS.ProcessEnv = { ...process.env, CAPSTAN_HOME: home, CAPSTAN_CACHE: process.env.CAPSTAN_CACHE ?? join(homedir(), '.capstan', 'cache') };
for (const name of Object.keys(env)) {
  if (/^(BOSH|CAPSTAN)_(ENVIRONMENT|CA_CERT|CLIENT|CLIENT_SECRET|DEPLOYMENT)$/.test(name)) delete env[name];
}
const skip = spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0 ? false : 'no Docker engine answers (`docker info` failed)';
let host: TlsDockerHost;
let stemcellLabel: string | undefined;

/** Runs the CLI without blocking: the TLS Docker host is served by this very process. */
async function capstan(...args: string[]): Promise<string> {
  const result = await new Promise<{ status: number | null; stdout: string; stderr: string }>((done, fail) => {
    const child = spawn(join(REPO, 'bin', 'capstan'), ['-n', ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', fail);
    child.once('close', (status) => done({ status, stdout, stderr }));
  });
  assert.equal(result.status, 0, `capstan ${args.join(' ')} failed (exit ${result.status}):\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

function writeYaml(name: string, content: unknown): string {
  const path = join(work, name);
  writeFileSync(path, stringify(content));
  return path;
}

const containersOnNetwork = () => execFileSync('docker', ['ps', '-aq', '--filter', `network=${NETWORK}`], { encoding: 'utf8' }).split('\n').filter(Boolean);

function cleanUp(): void {
  spawnSync(join(REPO, 'bin', 'capstan'), ['down'], { env, stdio: 'ignore' });
  for (const id of containersOnNetwork()) spawnSync('docker', ['rm', '-f', id], { stdio: 'ignore' });
  spawnSync('docker', ['network', 'rm', NETWORK], { stdio: 'ignore' });
}

before(async () => {
  if (skip) return;
  cleanUp();
  host = await startTlsDockerHost();
  await capstan('up', '--cpi', 'docker', '--network', NETWORK, '--subnet', `${PREFIX}0/24`,
    '--director-port', String(await freePort()), '--nats-port', String(await freePort()), '--blobstore-port', String(await freePort()));
});

after(async () => {
  if (skip) return;
  if (stemcellLabel) await capstan('delete-stemcell', stemcellLabel).catch(() => undefined);
  cleanUp();
  await host?.close();
  rmSync(work, { recursive: true, force: true });
});

test('one deployment over two Docker hosts: z1 through the unix socket, z2 through TLS', { skip }, async () => {
  const network = { network: NETWORK, subnet: `${PREFIX}0/24`, gateway: `${PREFIX}1` };
  await capstan('update-cpi-config', writeYaml('cpi.yml', {
    cpis: [
      { name: 'docker-z1', type: 'docker', properties: { host: 'unix:///var/run/docker.sock', ...network } },
      { name: 'docker-z2', type: 'docker', properties: { host: host.url, tls: host.clientTls, ...network } },
    ],
  }));
  const stemcell = (await capstan('stemcell', 'build')).trim();
  const uploaded = await capstan('upload-stemcell', stemcell);
  console.log(uploaded.split('\n').filter((l) => /Uploading stemcell/.test(l)).join('\n'));
  const stemcells = JSON.parse(await capstan('--json', 'stemcells')).Tables[0].Rows as Array<Record<string, string>>;
  assert.deepEqual(stemcells.map((s) => s.cpi).sort(), ['', 'docker-z1', 'docker-z2']);
  stemcellLabel = `${stemcells[0].name}/${stemcells[0].version.replace(/\*$/, '')}`;

  await capstan('update-cloud-config', writeYaml('cloud.yml', {
    azs: [{ name: 'z1', cpi: 'docker-z1' }, { name: 'z2', cpi: 'docker-z2' }],
    vm_types: [{ name: 'default' }],
    networks: [{ name: 'default', type: 'manual', subnets: [{ range: `${PREFIX}0/24`, gateway: `${PREFIX}1`, azs: ['z1', 'z2'], reserved: [`${PREFIX}1 - ${PREFIX}9`] }] }],
    compilation: { workers: 1, network: 'default', az: 'z1', vm_type: 'default' },
  }));
  const releaseDir = writeReleaseDir(join(work, 'release'), 'plain', [{ name: 'idle', spec: { properties: {} }, monit: '', templates: {} }]);
  mkdirSync(join(work, 'out'), { recursive: true });
  const tarball = join(work, 'out', 'plain.tgz');
  await capstan('create-release', '--dir', releaseDir, '--version', '1', '--tarball', tarball, '--force');
  await capstan('upload-release', tarball);

  const before = host.proxiedBytes();
  await capstan('-d', 'app', 'deploy', writeYaml('manifest.yml', {
    name: 'app',
    releases: [{ name: 'plain', version: 'latest' }],
    stemcells: [{ alias: 'default', os: stemcells[0].os, version: 'latest' }],
    update: { canaries: 1, max_in_flight: 2, canary_watch_time: '1000-30000', update_watch_time: '1000-30000' },
    instance_groups: [{ name: 'idle', instances: 2, azs: ['z1', 'z2'], vm_type: 'default', stemcell: 'default', networks: [{ name: 'default' }], jobs: [{ name: 'idle', release: 'plain' }] }],
  }));
  assert.ok(host.proxiedBytes() > before, 'the z2 VM was made through the TLS Docker host');
  const rows = JSON.parse(await capstan('--json', '-d', 'app', 'vms')).Tables[0].Rows as Array<Record<string, string>>;
  console.log(rows.map((r) => `${r.instance} ${r.az} ${r.process_state} ${r.ips} ${r.vm_cid}`).join('\n'));
  assert.deepEqual(rows.map((r) => r.az).sort(), ['z1', 'z2']);
  for (const row of rows) assert.equal(row.process_state, 'running');
  assert.equal(containersOnNetwork().length, 2);

  await capstan('-d', 'app', 'delete-deployment');
  assert.deepEqual(containersOnNetwork(), []);
  await capstan('delete-stemcell', stemcellLabel);
  stemcellLabel = undefined;
  assert.deepEqual(JSON.parse(await capstan('--json', 'stemcells')).Tables[0].Rows, []);
});
