// The monitor with real Capstan agents: dummy-CPI VMs (dist/capstan-agent.cjs processes) heartbeat
// over mutual TLS through the real nats-server; the dummy CPI makes agents unresponsive (SIGSTOP).
// The director is the fake one (its instance list names the dummy VMs; when the monitor asks it to
// scan and fix, the test recreates the VM through the CPI as the director's cck task would).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../src/common/logging.js';
import { DEFAULT_AGENT_BUNDLE, DummyCpi } from '../../src/cpi/dummy/dummy-cpi.js';
import { AlertEvent } from '../../src/monitor/events/alert.js';
import type { MonitorEvent } from '../../src/monitor/events/event.js';
import { startMonitor, type RunningMonitor } from '../../src/monitor/monitor.js';
import { cleanupPki, FakeDirector, makePki, NatsServer, testMonitorConfig, waitFor, type Pki } from './helpers.js';

const skip = existsSync(DEFAULT_AGENT_BUNDLE) ? false : `no agent bundle at ${DEFAULT_AGENT_BUNDLE} (npm run build:agent)`;
const quiet = createLogger('real-agents-test', undefined, 'silent');

let pki: Pki;
let nats: NatsServer;
let dir: string;
let cpi: DummyCpi;
let stemcell: string;
const vms: string[] = [];
const savedInterval = process.env.CAPSTAN_HEARTBEAT_INTERVAL_MS;

before(async () => {
  if (skip) return;
  process.env.CAPSTAN_HEARTBEAT_INTERVAL_MS = '500'; // the agents inherit it: quick heartbeats
  pki = makePki();
  nats = await NatsServer.start(pki);
  dir = mkdtempSync(join(tmpdir(), 'capstan-hm-agents-'));
  cpi = new DummyCpi({ baseDir: dir, agent: { mbus: nats.url, blobstore: { provider: 'local', options: { blobstore_path: join(dir, 'blobs') } } }, logger: quiet });
  stemcell = await cpi.createStemcell('/nonexistent', {});
});

after(async () => {
  if (skip) return;
  await Promise.all(vms.map((cid) => cpi.deleteVm(cid).catch(() => {})));
  await nats.stop();
  rmSync(dir, { recursive: true, force: true });
  cleanupPki(pki);
  if (savedInterval === undefined) delete process.env.CAPSTAN_HEARTBEAT_INTERVAL_MS;
  else process.env.CAPSTAN_HEARTBEAT_INTERVAL_MS = savedInterval;
});

async function createVm(agentId: string): Promise<string> {
  const cid = await cpi.createVm(agentId, stemcell, {}, { default: { type: 'manual', ip: '10.0.0.5', netmask: '255.255.255.0', gateway: '10.0.0.1', default: ['dns', 'gateway'] } }, [], {
    bosh: { mbus: { cert: pki.agentCertificate(agentId) } },
  } as never);
  vms.push(cid);
  return cid;
}

interface Setup {
  director: FakeDirector;
  monitor: RunningMonitor;
  alerts: AlertEvent[];
  cids: Map<string, string>;
  close(): Promise<void>;
}

async function setup(prefix: string, count: number, agentTimeout: number): Promise<Setup> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  const cids = new Map<string, string>();
  for (const id of ids) cids.set(id, await createVm(id));
  const director = new FakeDirector(pki);
  await director.start();
  director.addDeployment('dep', ids);
  for (const instance of director.deployments[0]!.instances) instance.cid = cids.get(instance.agent_id!)!;
  const config = testMonitorConfig(pki, nats.url, director, { plugins: [{ name: 'resurrector', events: ['alert'], options: { settle_period: 1 } }] });
  config.intervals.agent_timeout = agentTimeout;
  const monitor = await startMonitor(config, quiet);
  const alerts: AlertEvent[] = [];
  monitor.processor.register('capture', { process: (e: MonitorEvent) => void (e instanceof AlertEvent && alerts.push(e)) }, ['alert']);
  const close = async () => {
    await monitor.close();
    await director.stop();
    await Promise.all([...cids.values()].map((cid) => cpi.deleteVm(cid).catch(() => {})));
  };
  try {
    await waitFor('heartbeats from every agent', () => monitor.poller.synced && ids.every((id) => monitor.registry.agents.get(id)?.jobState), 60_000);
  } catch (err) {
    await close();
    throw new Error(`${(err as Error).message}: ${ids.filter((id) => !monitor.registry.agents.get(id)?.jobState).join(', ')} silent`);
  }
  return {
    director,
    monitor,
    alerts,
    cids,
    close,
  };
}

test('an unresponsive agent times out within agent_timeout + analyze_agents; scan_and_fix gets its VM recreated', { skip }, async () => {
  const s = await setup('one', 3, 2);
  try {
    const silencedAt = Date.now();
    await cpi.simulate({ type: 'agent_unresponsive', vmCid: s.cids.get('one-1')! });
    await waitFor('the timed out alert', () => s.alerts.find((a) => a.title === 'one-1 has timed out'));
    assert.ok(Date.now() - silencedAt <= (2 + 0.5) * 1000 + 1000);
    const [call] = await waitFor('scan_and_fix', () => s.director.scanAndFixCalls.length > 0 && s.director.scanAndFixCalls);
    assert.deepEqual(JSON.parse(call!.body), { jobs: { web: ['dep-web-1'] } });

    // What the director's scan-and-fix task does: recreate the VM with a new agent.
    await cpi.deleteVm(s.cids.get('one-1')!);
    const instance = s.director.deployments[0]!.instances[1]!;
    const newCid = await createVm('one-1b');
    s.cids.set('one-1b', newCid);
    Object.assign(instance, { agent_id: 'one-1b', cid: newCid });
    await waitFor('the new agent heartbeating', () => s.monitor.registry.agents.get('one-1b')?.instanceId === 'dep-web-1', 30_000);
    const before = s.alerts.length;
    await sleep(3000);
    assert.deepEqual(s.alerts.slice(before).filter((a) => a.title.includes('timed out')).map((a) => a.title), []);
  } finally {
    await s.close();
  }
});

test('six of ten real agents unresponsive at once: meltdown, nothing recreated', { skip }, async () => {
  const s = await setup('melt', 10, 2);
  try {
    await Promise.all(['melt-0', 'melt-1', 'melt-2', 'melt-3', 'melt-4', 'melt-5'].map((id) => cpi.simulate({ type: 'agent_unresponsive', vmCid: s.cids.get(id)! })));
    await waitFor('the meltdown alert', () => s.alerts.find((a) => a.title === 'We are in meltdown'));
    await sleep(2500);
    assert.deepEqual(s.director.scanAndFixCalls, []);
  } finally {
    await s.close();
  }
});

test('a NATS outage longer than agent_timeout recreates nothing once real agents reconnect', { skip }, async () => {
  // Real agents back off (2 s x attempt, at most 10 s) before reconnecting: agent_timeout leaves room for that.
  const s = await setup('nats', 3, 12);
  try {
    await nats.stop();
    await sleep(14_000);
    await nats.resume();
    await waitFor('every agent heartbeating again', async () => {
      const before = s.monitor.registry.heartbeatsReceived;
      await sleep(1000);
      return s.monitor.registry.heartbeatsReceived >= before + 3;
    }, 30_000);
    await sleep(2000);
    assert.deepEqual(s.alerts.filter((a) => a.title.includes('timed out')).map((a) => a.title), []);
    assert.deepEqual(s.director.scanAndFixCalls, []);
  } finally {
    await s.close();
  }
});
