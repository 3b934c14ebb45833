// End to end, as a user runs it: `capstan up` with the Docker CPI, the default stemcell, the nginx example
// release deployed into a Docker VM, nginx answering over HTTP, monit restarting a killed nginx, the smoke-test
// errand, and delete-deployment leaving no container behind.
//
// The environment is a separate one (its own CAPSTAN_HOME, ports and Docker network on a subnet of its own),
// so the test can run while the user's own `capstan up` environment, or another run of this test, is running.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const REPO = join(import.meta.dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'capstan-e2e-'));
const home = join(work, 'home');
// 10.245.0.0/24 is the default environment's; each run takes another /24 and other ports
const slot = 1 + (process.pid % 200);
const NETWORK = `capstan-e2e-${slot}`;
const SUBNET_PREFIX = `10.245.${slot}.`;
const NGINX_IP = `${SUBNET_PREFIX}10`;
const PORTS = { director: 26000 + slot * 4, nats: 26001 + slot * 4, blobstore: 26002 + slot * 4 };

const env: NodeJS.ProcessEnv = { ...process.env, CAPSTAN_HOME: home, CAPSTAN_CACHE: process.env.CAPSTAN_CACHE ?? join(homedir(), '.capstan', 'cache') };
for (const name of Object.keys(env)) {
  if (/^(BOSH|CAPSTAN)_(ENVIRONMENT|CA_CERT|CLIENT|CLIENT_SECRET|DEPLOYMENT)$/.test(name)) delete env[name];
}

const dockerAnswers = spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0;
const skip = dockerAnswers ? false : 'no Docker engine answers (`docker info` failed): scripts/setup starts one';

function capstan(...args: string[]): string {
  const result = spawnSync(join(REPO, 'bin', 'capstan'), args, { env, encoding: 'utf8', timeout: 15 * 60_000 });
  const output = `${result.stdout}${result.stderr}`;
  assert.equal(result.status, 0, `capstan ${args.join(' ')} failed (exit ${result.status}):\n${output}`);
  return result.stdout;
}

function dockerExec(container: string, script: string): string {
  return execFileSync('docker', ['exec', container, 'bash', '-c', script], { encoding: 'utf8' });
}

/** The example's cloud config and manifest, moved onto this test's subnet. */
function exampleFile(name: string): string {
  const text = readFileSync(join(REPO, 'examples', 'nginx', name), 'utf8').replaceAll('10.245.0.', SUBNET_PREFIX);
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
}

async function httpGet(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: response.status, body: await response.text() };
}

async function eventually<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await sleep(1000);
  }
  throw new Error(`${what} did not happen within ${timeoutMs / 1000}s${lastError ? `: ${(lastError as Error).message}` : ''}`);
}

function containersOnNetwork(): string[] {
  return execFileSync('docker', ['ps', '-aq', '--filter', `network=${NETWORK}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

interface VmRow {
  instance: string;
  process_state: string;
  ips: string;
  vm_cid: string;
}

function vms(): VmRow[] {
  return JSON.parse(capstan('--json', '-d', 'nginx', 'vms')).Tables[0].Rows as VmRow[];
}

/** What an earlier, interrupted run with the same slot may have left (VMs, network); then ours. */
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

test('deploys examples/nginx into a Docker VM and serves its page', { skip }, async (t) => {
  await t.test('uploads the default stemcell, the cloud config and the example release', () => {
    const stemcell = capstan('stemcell', 'build').trim();
    assert.ok(existsSync(stemcell), `stemcell build printed '${stemcell}'`);
    capstan('upload-stemcell', stemcell);
    capstan('update-cloud-config', exampleFile('cloud-config.yml'));
    const releaseDir = join(work, 'nginx-release');
    cpSync(join(REPO, 'examples', 'nginx'), releaseDir, { recursive: true, filter: (src) => !src.includes('dev_releases') });
    const tarball = join(work, 'nginx.tgz');
    capstan('create-release', '--dir', releaseDir, '--tarball', tarball);
    capstan('upload-release', tarball);
    assert.match(capstan('releases'), /nginx\s+0\+dev\.1/);
  });

  await t.test('deploys, compiling nginx on a compilation VM, and reports the instance running', () => {
    const output = capstan('-n', '-d', 'nginx', 'deploy', exampleFile('manifest.yml'));
    assert.match(output, /Task \d+ \| \d\d:\d\d:\d\d \| Compiling packages: nginx\/[0-9a-f]{40} \(\d\d:\d\d:\d\d\)/);
    assert.match(output, /Updating instance nginx: nginx\/[0-9a-f-]{36} \(0\) \(canary\)/);
    const row = vms().find((r) => r.instance.startsWith('nginx/'));
    assert.ok(row, 'capstan vms lists the nginx instance');
    assert.equal(row.process_state, 'running');
    assert.equal(row.ips, NGINX_IP);
    assert.equal(containersOnNetwork().length, 1, 'the compilation VM is gone, the nginx VM remains');
  });

  await t.test('nginx answers over HTTP from inside its VM', async () => {
    const page = await httpGet(`http://${NGINX_IP}/`);
    assert.equal(page.status, 200);
    assert.match(page.body, /<h1>Hello from Capstan<\/h1>/);
  });

  await t.test('monit lists nginx running and restarts it when it is killed', async () => {
    const vm = vms().find((r) => r.instance.startsWith('nginx/'))!.vm_cid;
    const monit = 'monit -c /var/vcap/bosh/etc/monitrc';
    await eventually('monit reporting nginx OK', 30_000, () => (/^\s*nginx\s+OK\s+Process/m.test(dockerExec(vm, `${monit} summary`)) ? true : undefined));
    const pidFile = '/var/vcap/sys/run/nginx/nginx.pid';
    const killed = dockerExec(vm, `cat ${pidFile}`).trim();
    dockerExec(vm, `kill -9 ${killed}`);
    const restarted = await eventually('monit restarting nginx', 90_000, () => {
      const pid = dockerExec(vm, `cat ${pidFile} 2>/dev/null || true`).trim();
      return pid && pid !== killed && dockerExec(vm, `kill -0 ${pid} && echo alive || true`).includes('alive') ? pid : undefined;
    });
    assert.notEqual(restarted, killed);
    await eventually('nginx answering again', 30_000, async () => ((await httpGet(`http://${NGINX_IP}/`)).status === 200 ? true : undefined));
  });

  await t.test('the smoke-test errand passes', () => {
    assert.match(capstan('-d', 'nginx', 'run-errand', 'smoke-test'), /smoke-test: PASSED/);
  });

  await t.test('no log line of the environment holds the admin password', () => {
    const secret = JSON.parse(readFileSync(join(home, 'env.json'), 'utf8')).client_secret as string;
    for (const name of readdirSync(join(home, 'logs'))) {
      assert.ok(!readFileSync(join(home, 'logs', name), 'utf8').includes(secret), `logs/${name} contains the admin password`);
    }
  });

  await t.test('delete-deployment leaves no container behind', () => {
    capstan('-n', '-d', 'nginx', 'delete-deployment');
    assert.deepEqual(containersOnNetwork(), []);
    assert.match(capstan('deployments'), /0 deployments/);
  });
});
