import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import { DummyCpi } from '../../src/cpi/dummy/dummy-cpi.js';
import { DEFAULT_AGENT_PORT_RANGE } from '../../src/cpi/dummy/ports.js';
import { createLogger } from '../../src/common/logging.js';
import type { AgentSettings } from '../../src/common/protocol.js';

// Stands in for dist/capstan-agent.cjs: records how it was started and what settings it found, and
// starts a "job" in its own session (as monit does), which deleteVm must not leave behind.
const FAKE_AGENT = `
const { readFileSync, writeFileSync, mkdirSync } = require('fs');
const { spawn } = require('child_process');
const arg = (flag) => process.argv[process.argv.indexOf(flag) + 1];
const config = JSON.parse(readFileSync(arg('-C'), 'utf8'));
const settings = JSON.parse(readFileSync(config.Infrastructure.Settings.Sources[0].SettingsPath, 'utf8'));
const base = arg('-b');
mkdirSync(base + '/jobs', { recursive: true });
const job = spawn('sleep', ['1000'], { cwd: base + '/jobs', detached: true, stdio: 'ignore' });
writeFileSync(base + '/started.json', JSON.stringify({ argv: process.argv.slice(2), config, settings, jobPid: job.pid }));
process.on('SIGTERM', () => process.exit(0));
setInterval(() => {}, 1000);
`;

let dir: string;
let cpi: DummyCpi;
const agent = { mbus: 'nats://127.0.0.1:4222', blobstore: { provider: 'dav', options: { endpoint: 'https://127.0.0.1:25250' } } };

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'capstan-dummy-cpi-'));
  writeFileSync(join(dir, 'fake-agent.cjs'), FAKE_AGENT);
  cpi = new DummyCpi({ baseDir: join(dir, 'cpi'), agent, agentBundlePath: join(dir, 'fake-agent.cjs'), logger: createLogger('dummy-cpi', undefined, 'warn') });
});

after(() => rmSync(dir, { recursive: true, force: true }));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor<T>(fn: () => T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const value = fn();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

test('a dummy VM is a local agent process with its own settings, stopped with its jobs by deleteVm', async () => {
  const stemcellCid = await cpi.createStemcell('/nonexistent/image', { any: 'thing' });
  const networks = { default: { type: 'manual' as const, ip: '10.0.0.5', netmask: '255.255.255.0', gateway: '10.0.0.1' } };
  const vmCid = await cpi.createVm('agent-7', stemcellCid, {}, networks, [], { bosh: { group: 'g' } });

  const started = await waitFor(() => {
    const file = join(dir, 'cpi', 'vms', vmCid, 'vcap', 'started.json');
    return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
  }, 'the agent to start');
  assert.deepEqual(started.argv.filter((a: string) => a.startsWith('-')), ['-P', '-C', '-b']);
  assert.equal(started.argv[started.argv.indexOf('-P') + 1], 'dummy');
  assert.equal(started.config.Capstan.Monit, 'spawn');
  assert.ok(started.config.Capstan.MonitPort > 0 && started.config.Capstan.AlertSmtpPort > 0);
  assert.notEqual(started.config.Capstan.MonitPort, 2822, 'a free port, not the stemcell default');
  const settings = started.settings as AgentSettings;
  assert.deepEqual(settings, {
    agent_id: 'agent-7',
    blobstore: agent.blobstore,
    disks: { persistent: {} },
    env: { bosh: { group: 'g' } },
    networks,
    ntp: [],
    mbus: agent.mbus,
    vm: { name: vmCid },
  });
  assert.equal(await cpi.hasVm(vmCid), true);
  assert.ok(alive(started.jobPid));

  await cpi.deleteVm(vmCid);
  assert.equal(await cpi.hasVm(vmCid), false);
  await waitFor(() => (alive(started.jobPid) ? undefined : true), 'the job process to be gone');
  assert.ok(!existsSync(join(dir, 'cpi', 'vms', vmCid)));
  await cpi.deleteVm(vmCid); // idempotent
  await cpi.deleteStemcell(stemcellCid);
});

test('createVm names a missing stemcell or agent bundle', async () => {
  await assert.rejects(cpi.createVm('a', 'no-such-stemcell', {}, {}, [], {}), /Stemcell 'no-such-stemcell' not found/);
  const noBundle = new DummyCpi({ baseDir: join(dir, 'cpi'), agent, agentBundlePath: join(dir, 'missing.cjs') });
  const stemcellCid = await noBundle.createStemcell('/x', {});
  await assert.rejects(noBundle.createVm('a', stemcellCid, {}, {}, [], {}), /npm run build:agent/);
});

test('cids cannot point outside the state directory', async () => {
  await assert.rejects(cpi.hasVm('../../etc'), /Invalid cid/);
});

// Stands in for a bosh-agent binary: records its arguments and the settings it was given.
const FAKE_BOSH_AGENT = `#!${process.execPath}
const { readFileSync, writeFileSync } = require('fs');
const arg = (flag) => process.argv[process.argv.indexOf(flag) + 1];
const config = JSON.parse(readFileSync(arg('-C'), 'utf8'));
writeFileSync(arg('-b') + '/started.json', JSON.stringify({ argv: process.argv.slice(2), cwd: process.cwd(), tmpdir: process.env.TMPDIR, config }));
process.on('SIGTERM', () => process.exit(0));
setInterval(() => {}, 1000);
`;

test('runs any bosh-agent binary by path, started as BOSH\'s dummy CPI starts it', async () => {
  const binary = join(dir, 'bosh-agent');
  writeFileSync(binary, FAKE_BOSH_AGENT, { mode: 0o755 });
  const goCpi = new DummyCpi({ baseDir: join(dir, 'go'), agent, agentBinary: binary, logger: createLogger('dummy-cpi', undefined, 'warn') });
  const stemcellCid = await goCpi.createStemcell('/x', {});
  const vmCid = await goCpi.createVm('agent-go', stemcellCid, {}, {}, [], {});
  const base = join(dir, 'go', 'vms', vmCid, 'vcap');
  const started = await waitFor(() => {
    const file = join(base, 'started.json');
    return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
  }, 'the bosh-agent to start');
  assert.deepEqual(started.argv, ['-b', base, '-P', 'dummy', '-M', 'dummy-nats', '-C', join(base, 'agent.json')]);
  const settingsPath = join(base, 'bosh', 'dummy-cpi-agent-env.json');
  assert.equal(started.config.Infrastructure.Settings.Sources[0].SettingsPath, settingsPath);

  const diskCid = await goCpi.createDisk(100, {}, vmCid);
  const hint = await goCpi.attachDisk(vmCid, diskCid);
  assert.equal(hint, goCpi.diskPath(diskCid));
  const settings = JSON.parse(readFileSync(settingsPath, 'utf8')) as AgentSettings;
  assert.deepEqual(settings.disks.persistent, { [diskCid]: hint }, 'the agent finds the disk in its settings too');
  await goCpi.deleteVm(vmCid);
  await goCpi.deleteDisk(diskCid);
});

function processState(pid: number): string {
  // /proc/<pid>/stat: "pid (comm) S ..."
  return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0];
}

test('simulates a vanished VM, an agent that does not answer, and a missing disk', async () => {
  const stemcellCid = await cpi.createStemcell('/x', {});
  const vmCid = await cpi.createVm('agent-fail', stemcellCid, {}, {}, [], {});
  const { pid } = JSON.parse(readFileSync(join(dir, 'cpi', 'vms', vmCid, 'vm.json'), 'utf8')) as { pid: number };

  // signals are delivered asynchronously: the state changes a moment after simulate() returns
  await cpi.simulate({ type: 'agent_unresponsive', vmCid });
  await waitFor(() => (processState(pid) === 'T' ? true : undefined), 'the agent to be stopped');
  assert.equal(await cpi.hasVm(vmCid), true, 'the VM still exists');
  await cpi.simulate({ type: 'agent_unresponsive', vmCid, unresponsive: false });
  await waitFor(() => (processState(pid) !== 'T' ? true : undefined), 'the agent to run again');

  await cpi.simulate({ type: 'vm_vanished', vmCid });
  assert.equal(await cpi.hasVm(vmCid), false);
  await waitFor(() => (alive(pid) ? undefined : true), 'the agent to be gone');
  await cpi.deleteVm(vmCid); // the director deleting a vanished VM is fine

  const diskCid = await cpi.createDisk(100, {}, null);
  await cpi.simulate({ type: 'disk_missing', diskCid });
  assert.equal(await cpi.hasDisk(diskCid), false);
});

function agentConfig(baseDir: string, vmCid: string): { Capstan: { MonitPort?: number; AlertSmtpPort?: number } } {
  return JSON.parse(readFileSync(join(baseDir, 'vms', vmCid, 'agent.json'), 'utf8'));
}

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

// The agent binds monit's ports seconds after the CPI chose them: a port that was merely free at that
// moment (the kernel's pick for bind(0)) was taken meanwhile by an outgoing connection or another
// agent, and that agent died with EADDRINUSE while the deploy waited for it.
test('monit ports are reserved per VM: never one another VM or environment holds or a process listens on', async () => {
  const [ephemeralLow] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  assert.ok(DEFAULT_AGENT_PORT_RANGE[1] < ephemeralLow, 'outside the range outgoing connections and bind(0) take ports from');

  const low = 24_000 + Math.floor(Math.random() * 900);
  const range: [number, number] = [low, low + 4];
  const blocker = await listen(low); // something else on the host already listens on the first port
  const cpis = ['env-a', 'env-b'].map((name) =>
    new DummyCpi({ baseDir: join(dir, name), agent, agentBundlePath: join(dir, 'fake-agent.cjs'), agentPortRange: range, logger: createLogger('dummy-cpi', undefined, 'warn') }));
  try {
    const stemcells = await Promise.all(cpis.map((c) => c.createStemcell('/x', {})));
    const [a, b] = await Promise.all(cpis.map((c, i) => c.createVm(`agent-port-${i}`, stemcells[i]!, {}, {}, [], {})));
    const ports = [agentConfig(join(dir, 'env-a'), a), agentConfig(join(dir, 'env-b'), b)].flatMap((c) => [c.Capstan.MonitPort!, c.Capstan.AlertSmtpPort!]);
    assert.deepEqual([...ports].sort(), [low + 1, low + 2, low + 3, low + 4], 'four distinct ports, not the one in use');

    await assert.rejects(cpis[0]!.createVm('agent-port-2', stemcells[0]!, {}, {}, [], {}), /No free port left in/);
    await cpis[0]!.deleteVm(a);
    const c = await cpis[0]!.createVm('agent-port-3', stemcells[0]!, {}, {}, [], {});
    const again = agentConfig(join(dir, 'env-a'), c).Capstan;
    assert.deepEqual([again.MonitPort, again.AlertSmtpPort].sort(), ports.slice(0, 2).sort(), 'deleteVm gave its ports back');
    await cpis[0]!.deleteVm(c);
    await cpis[1]!.deleteVm(b);
  } finally {
    blocker.close();
  }
});

test('with the dummy supervisor the agent runs without monit, as BOSH\'s dummy CPI starts it', async () => {
  const dummyCpi = new DummyCpi({ baseDir: join(dir, 'no-monit'), agent, agentBundlePath: join(dir, 'fake-agent.cjs'), supervisor: 'dummy', logger: createLogger('dummy-cpi', undefined, 'warn') });
  const vmCid = await dummyCpi.createVm('agent-no-monit', await dummyCpi.createStemcell('/x', {}), {}, {}, [], {});
  const started = await waitFor(() => {
    const file = join(dir, 'no-monit', 'vms', vmCid, 'vcap', 'started.json');
    return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
  }, 'the agent to start');
  assert.equal(started.argv[started.argv.indexOf('-M') + 1], 'dummy-nats');
  assert.equal(started.config.Capstan.MonitPort, undefined, 'no monit ports reserved');
  await dummyCpi.deleteVm(vmCid);
});
