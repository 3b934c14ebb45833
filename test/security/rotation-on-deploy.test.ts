// Certificates and credentials rotate on deploy without recreating VMs (director-api.md §6.1 changes
// trusted_certs / nats_config / blobstore_config, §6.4 step 3): the operator moves the director to a
// new agent CA (nats-server trusting the old and the new one meanwhile) and adds trusted certs; the
// next deploy of the same manifest updates every agent with update_settings — same VMs, same agent
// processes, a NATS certificate from the new CA, the trusted certs installed — and the deploy after
// that touches nothing. A VM from before the settings SHA-1s existed (NULL) gets its own blobstore
// credential on its next deploy, again without a new VM.
// The dummy CPI with the real director process, real nats-server (mutual TLS), real agents and monit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import { stringify } from 'yaml';
import { loadDirectorConfig } from '../../src/director/config.js';
import { openDatabase } from '../../src/director/db/index.js';
import type { Database } from '../../src/director/db/schema.js';
import { generateCa } from '../../src/environment/certs.js';
import { environmentPaths, type EnvironmentPaths } from '../../src/environment/paths.js';
import { readPidFile, startDetached, stopProcess } from '../../src/environment/processes.js';
import { dummyEnvironmentSkip, REPO, startDummyEnvironment, writeReleaseDir, type DummyEnvironment } from '../support/dummy-env.js';

const skip = dummyEnvironmentSkip;
let env: DummyEnvironment;
let paths: EnvironmentPaths;
let db: Kysely<Database>;
let root: string;

/**
 * A job whose ctl starts a `sleep` that monit watches through a pid file below root (restarts show
 * as new pids); pre-start copies ctl there, so monit needs no path inside the agent's base dir.
 */
const WEB = (() => {
  const dir = '<%= p("root") %>/<%= spec.id %>';
  return {
    name: 'web',
    spec: { properties: { root: {} }, templates: { 'ctl.erb': 'bin/ctl', 'pre-start.erb': 'bin/pre-start' } },
    monit: ['check process web', `  with pidfile ${dir}/pid`, `  start program "${dir}/ctl start"`, `  stop program "${dir}/ctl stop"`, '  group vcap', ''].join('\n'),
    templates: {
      'pre-start.erb': ['#!/bin/bash', 'set -e', `R=${dir}`, 'mkdir -p $R', 'cp "$(dirname "$0")/ctl" $R/ctl', 'chmod 755 $R/ctl', ''].join('\n'),
      'ctl.erb': ['#!/bin/bash', `R=${dir}`, 'case "$1" in', '  start) setsid sleep 100000 </dev/null >/dev/null 2>&1 & echo $! > $R/pid ;;', '  stop) kill "$(cat $R/pid)" 2>/dev/null; rm -f $R/pid ;;', 'esac', ''].join('\n'),
    },
  };
})();

async function deploy(): Promise<string> {
  const path = join(env.work, 'manifest.yml');
  writeFileSync(path, stringify({
    name: 'app',
    releases: [{ name: 'rot', version: 'latest' }],
    stemcells: [{ alias: 'default', os: 'debian-bookworm', version: 'latest' }],
    update: { canaries: 1, max_in_flight: 2, canary_watch_time: '1000-20000', update_watch_time: '1000-20000' },
    instance_groups: [{ name: 'web', instances: 2, vm_type: 'default', stemcell: 'default', networks: [{ name: 'default' }], jobs: [{ name: 'web', release: 'rot' }], properties: { root } }],
  }));
  const result = await env.capstan('-d', 'app', 'deploy', path);
  assert.equal(result.status, 0, result.stdout + result.stderr);
  return result.stdout;
}

interface Vm {
  cid: string;
  agentId: string;
  agentPid: number;
  sha1s: [string | null, string | null, string | null];
}

async function vms(): Promise<Vm[]> {
  const rows = await db.selectFrom('vms').select(['cid', 'agent_id', 'trusted_certs_sha1', 'nats_config_sha1', 'blobstore_config_sha1']).orderBy('cid').execute();
  return rows.map((r) => ({
    cid: r.cid, agentId: r.agent_id,
    agentPid: (JSON.parse(readFileSync(join(vmDir(r.cid), 'vm.json'), 'utf8')) as { pid: number }).pid,
    sha1s: [r.trusted_certs_sha1, r.nats_config_sha1, r.blobstore_config_sha1],
  }));
}

const vmDir = (cid: string) => join(paths.dummyCpi, 'vms', cid);
const agentFile = (cid: string, ...path: string[]) => join(vmDir(cid), 'vcap', 'bosh', ...path);
const updateSettingsOf = (cid: string) => JSON.parse(readFileSync(agentFile(cid, 'update_settings.json'), 'utf8'));

/** `{<instance uuid>: pid}` of the running web processes. */
function jobPids(): Record<string, string> {
  const result: Record<string, string> = {};
  for (const id of readdirSync(root)) if (existsSync(join(root, id, 'pid'))) result[id] = readFileSync(join(root, id, 'pid'), 'utf8').trim();
  return result;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The director reads its config at start: stop it, change the config, start it as `capstan up` does. */
async function restartDirector(change: (config: Record<string, any>) => void): Promise<void> {
  await stopProcess(paths.directorPid, paths.directorConfig);
  const config = JSON.parse(readFileSync(paths.directorConfig, 'utf8'));
  change(config);
  writeFileSync(paths.directorConfig, JSON.stringify(config, null, 2), { mode: 0o600 });
  startDetached({
    command: process.execPath,
    args: ['--import', import.meta.resolve('tsx'), join(REPO, 'src/cli/main.ts'), 'director', '-c', paths.directorConfig],
    pidFile: paths.directorPid, logFile: paths.directorLog, cwd: REPO, env: { ...process.env, CAPSTAN_HOME: paths.home },
  });
  for (let tries = 0; ; tries++) {
    const client = env.client();
    try {
      await client.request('GET', '/info');
      return;
    } catch (err) {
      if (tries > 120) throw err;
      await sleep(500);
    } finally {
      client.close();
    }
  }
}

before(async () => {
  if (skip) return;
  env = await startDummyEnvironment('capstan-rotation-deploy');
  paths = environmentPaths(env.home);
  db = await openDatabase(loadDirectorConfig(paths.directorConfig).db);
  root = join(env.home, 'jobs-root');
  mkdirSync(root);
  const tarball = join(env.work, 'rot.tgz');
  await env.capstanOk('create-release', '--dir', writeReleaseDir(join(env.work, 'release'), 'rot', [WEB]), '--version', '1', '--tarball', tarball, '--force');
  await env.capstanOk('upload-release', tarball);
  const cloudConfig = join(env.work, 'cloud-config.yml');
  writeFileSync(cloudConfig, stringify({
    vm_types: [{ name: 'default' }],
    networks: [{ name: 'default', type: 'manual', subnets: [{ range: '10.244.3.0/24', gateway: '10.244.3.1', reserved: ['10.244.3.1 - 10.244.3.9'] }] }],
    compilation: { workers: 1, network: 'default', vm_type: 'default' },
  }));
  await env.capstanOk('update-cloud-config', cloudConfig);
});

after(async () => {
  if (skip || !env) return;
  await env.capstan('-d', 'app', 'delete-deployment', '--force');
  for (const pid of Object.values(jobPids())) if (alive(Number(pid))) process.kill(Number(pid));
  await db?.destroy();
  await env.stop();
});

test('a new agent CA and trusted certs reach the running VMs on the next deploy, without new VMs', { skip }, async () => {
  await deploy();
  const deployed = await vms();
  assert.equal(deployed.length, 2);
  for (const vm of deployed) assert.ok(vm.sha1s.every((s) => s !== null), 'create_vm records the settings SHA-1s');
  assert.doesNotMatch(await deploy(), /Updating instance/, 'nothing changed yet');

  // The operator's rotation: a new agent CA (listed first: it signs; the old one still vouches for the
  // NATS and blob servers), nats-server trusting client certificates of both, and trusted certs.
  const oldCa = readFileSync(paths.certs.ca, 'utf8');
  const newCa = generateCa('Capstan rotated agent CA');
  const trusted = generateCa('Operator trusted CA').certificate;
  const rotation = join(env.home, 'rotation');
  mkdirSync(rotation);
  writeFileSync(join(rotation, 'agent-ca.pem'), newCa.certificate + oldCa);
  writeFileSync(join(rotation, 'agent-ca.key'), newCa.privateKey, { mode: 0o600 });
  writeFileSync(join(rotation, 'clients-ca.pem'), oldCa + newCa.certificate);
  const natsConf = readFileSync(paths.natsConfig, 'utf8');
  writeFileSync(paths.natsConfig, natsConf.replace(/^ {2}ca_file: .*$/m, `  ca_file: ${JSON.stringify(join(rotation, 'clients-ca.pem'))}`));
  process.kill(readPidFile(paths.natsPid)!, 'SIGHUP');
  await restartDirector((config) => {
    config.agent_ca = { certificate_path: join(rotation, 'agent-ca.pem'), private_key_path: join(rotation, 'agent-ca.key') };
    config.trusted_certs = trusted;
  });

  const jobsBefore = jobPids();
  assert.match(await deploy(), /Updating instance web/);
  const updated = await vms();
  assert.deepEqual(updated.map((v) => [v.cid, v.agentId, v.agentPid]), deployed.map((v) => [v.cid, v.agentId, v.agentPid]), 'same VMs, same agent processes');
  for (const vm of updated) {
    assert.ok(alive(vm.agentPid));
    const before = deployed.find((d) => d.cid === vm.cid)!;
    assert.notEqual(vm.sha1s[0], before.sha1s[0], 'trusted certs SHA-1 recorded');
    assert.notEqual(vm.sha1s[1], before.sha1s[1], 'NATS config SHA-1 recorded');
    // the agent connected with the new certificate before it saved it (agent-protocol.md §2.13)
    const settings = updateSettingsOf(vm.cid);
    const cert = new X509Certificate(settings.mbus.cert.certificate);
    assert.ok(cert.verify(new X509Certificate(newCa.certificate).publicKey), 'the agent certificate is signed by the new CA');
    assert.ok(cert.subject.includes(`CN=${vm.agentId}.agent.bosh-internal`));
    assert.equal(settings.trusted_certs, trusted);
    assert.equal(readFileSync(agentFile(vm.cid, 'etc', 'trusted_certs', 'bosh-trusted-cert-1.crt'), 'utf8').trim(), trusted.trim());
  }
  const jobsAfter = jobPids();
  assert.deepEqual(Object.keys(jobsAfter).sort(), Object.keys(jobsBefore).sort());
  for (const pid of Object.values(jobsAfter)) assert.ok(alive(Number(pid)), 'the jobs run again');

  // and the agents still answer over NATS: a no-op deploy asks each for its state and changes nothing
  assert.doesNotMatch(await deploy(), /Updating instance/);
  assert.deepEqual(jobPids(), jobsAfter);
});

test('a VM from before the settings SHA-1s gets its own blobstore credential on its next deploy, without a new VM', { skip }, async () => {
  const [old, other] = await vms();
  await db.updateTable('vms').set({ trusted_certs_sha1: null, nats_config_sha1: null, blobstore_config_sha1: null }).where('cid', '=', old.cid).execute();
  const jobsBefore = jobPids();

  const output = await deploy();
  assert.match(output, /Updating instance web/);
  const [now, untouched] = await vms();
  assert.deepEqual([now.cid, now.agentId, now.agentPid], [old.cid, old.agentId, old.agentPid], 'same VM and agent process');
  assert.ok(alive(now.agentPid), 'the agent applied the new blobstore settings without exiting');
  assert.deepEqual(now.sha1s, other.sha1s, 'the director’s current SHA-1s are recorded');
  assert.deepEqual(untouched, other);
  const blobstore = updateSettingsOf(now.cid).blobstores[0];
  assert.equal(blobstore.options.user, `agent-${now.agentId}`);
  const log = readFileSync(paths.directorLog, 'utf8').split('\n').filter((l) => l.includes('Updated agent settings') && l.includes(now.agentId));
  assert.match(log.at(-1) ?? '', /blobstore_config/);
  assert.doesNotMatch(readFileSync(paths.directorLog, 'utf8'), new RegExp(blobstore.options.password), 'the credential is never logged');

  // only that instance was restarted (its jobs applied again with the blobstore it now uses)
  const jobsAfter = jobPids();
  const uuids = Object.keys(jobsAfter);
  assert.equal(uuids.filter((id) => jobsAfter[id] !== jobsBefore[id]).length, 1);
  assert.doesNotMatch(await deploy(), /Updating instance/);
});
