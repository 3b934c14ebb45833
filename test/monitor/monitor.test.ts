// The health monitor against a real nats-server (mutual TLS) and a fake director over HTTPS:
// timeouts, resurrection, meltdown, and no false storms after NATS, director or monitor blind
// spots. Simulated agents publish heartbeats the way the agent does.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type NatsConnection } from 'nats';
import { startMonitor, type RunningMonitor } from '../../src/monitor/monitor.js';
import { AlertEvent } from '../../src/monitor/events/alert.js';
import type { MonitorEvent } from '../../src/monitor/events/event.js';
import { createLogger } from '../../src/common/logging.js';
import { cleanupPki, FakeDirector, makePki, NatsServer, SimulatedAgents, testMonitorConfig, waitFor, type Pki } from './helpers.js';

let pki: Pki;
let nats: NatsServer;
const quiet = createLogger('monitor-test', undefined, 'silent');

before(async () => {
  pki = makePki();
  nats = await NatsServer.start(pki);
});

after(async () => {
  await nats.stop();
  cleanupPki(pki);
});

interface Harness {
  director: FakeDirector;
  agents: SimulatedAgents;
  monitor: RunningMonitor;
  alerts: AlertEvent[];
  titles(): string[];
  close(): Promise<void>;
}

const RESURRECTOR = { name: 'resurrector', events: ['alert'], options: { settle_period: 1 } };

async function harness(agentIds: string[], plugins: unknown[] = [RESURRECTOR], agentReconnectMs = 200): Promise<Harness> {
  const deployment = 'dep';
  const director = new FakeDirector(pki);
  await director.start();
  director.addDeployment(deployment, agentIds);
  const agents = await SimulatedAgents.start(pki, nats.url, agentIds, deployment, 300, agentReconnectMs);
  const monitor = await startMonitor(testMonitorConfig(pki, nats.url, director, { plugins }), quiet);
  const alerts: AlertEvent[] = [];
  monitor.processor.register('capture', { process: (e: MonitorEvent) => void (e instanceof AlertEvent && alerts.push(e)) }, ['alert']);
  await waitFor('the first director sync and heartbeats', () => monitor.poller.synced && agentIds.every((id) => monitor.registry.agents.get(id)?.jobState));
  return {
    director,
    agents,
    monitor,
    alerts,
    titles: () => alerts.map((a) => a.title),
    async close() {
      await monitor.close();
      await agents.stop();
      await director.stop();
    },
  };
}

test('an agent that stops heartbeating times out within agent_timeout + analyze_agents and is resurrected', async () => {
  const h = await harness(['a-0', 'a-1', 'a-2']);
  try {
    const silencedAt = Date.now();
    h.agents.silent.add('a-1');
    const timedOut = await waitFor('the timed out alert', () => h.alerts.find((a) => a.title === 'a-1 has timed out'));
    assert.ok(Date.now() - silencedAt <= (2 + 0.5) * 1000 + 1000, 'alert within agent_timeout + analyze_agents (plus scheduling slack)');
    assert.equal(timedOut.severity, 2);
    assert.equal(timedOut.category, 'vm_health');
    assert.equal(timedOut.deployment, 'dep');
    assert.match(timedOut.source!, /^dep: web\(dep-web-1\) \[id=a-1, index=1, cid=vm-a-1\]$/);
    const aggregated = await waitFor('the deployment alert', () => h.alerts.find((a) => a.title === 'dep has instances with timed out agents'));
    assert.equal(aggregated.category, 'deployment_health');
    assert.deepEqual(aggregated.jobsToInstanceIds, { web: ['dep-web-1'] });

    const [call] = await waitFor('scan_and_fix', () => h.director.scanAndFixCalls.length > 0 && h.director.scanAndFixCalls);
    assert.equal(call!.url, '/deployments/dep/scan_and_fix');
    assert.deepEqual(JSON.parse(call!.body), { jobs: { web: ['dep-web-1'] } });
    assert.ok(h.titles().includes('Scan unresponsive VMs'));
    assert.ok(h.director.requests.some((r) => r.url.startsWith('/tasks?deployment=dep&state=queued,processing')), 'checks for a running scan and fix first');
    assert.ok(!h.titles().some((t) => t.startsWith('a-0') || t.startsWith('a-2')), 'healthy agents raise nothing');
  } finally {
    await h.close();
  }
});

test('six of ten agents going silent at once is a meltdown: nothing is recreated', async () => {
  const ids = Array.from({ length: 10 }, (_, i) => `m-${i}`);
  const h = await harness(ids);
  try {
    for (const id of ids.slice(0, 6)) h.agents.silent.add(id);
    const meltdown = await waitFor('the meltdown alert', () => h.alerts.find((a) => a.title === 'We are in meltdown'));
    assert.equal(meltdown.severity, 1);
    await waitFor('six timed out agents reported', () => ids.slice(0, 6).every((id) => h.titles().includes(`${id} has timed out`)));
    await sleep(2500); // more analysis rounds than the settle period
    assert.deepEqual(h.director.scanAndFixCalls, []);
  } finally {
    await h.close();
  }
});

test('a NATS restart recreates nothing: every agent gets a fresh grace period', async () => {
  // Agents come back later than the monitor (as real agents do, backing off), still within agent_timeout.
  const h = await harness(['n-0', 'n-1', 'n-2'], [RESURRECTOR], 1200);
  try {
    await nats.stop();
    await sleep(4500); // more than twice agent_timeout without any heartbeat
    await nats.resume();
    await waitFor('heartbeats after the restart', async () => {
      const before = h.monitor.registry.heartbeatsReceived;
      await sleep(400);
      return h.monitor.registry.heartbeatsReceived > before;
    });
    await sleep(3000); // longer than agent_timeout + analyze_agents
    assert.deepEqual(h.titles().filter((t) => t.includes('timed out')), []);
    assert.deepEqual(h.director.scanAndFixCalls, []);
  } finally {
    await h.close();
  }
});

test('a director restart recreates nothing, and its absence is alerted', async () => {
  const h = await harness(['d-0', 'd-1']);
  try {
    const port = h.director.port;
    await h.director.stop();
    await waitFor('the director alert', () => h.alerts.find((a) => a.title === 'Health monitor failed to connect to director'));
    assert.equal(h.alerts.find((a) => a.title === 'Health monitor failed to connect to director')!.severity, 3);
    // The agents cannot report either (say the director's host, NATS included, is restarting).
    for (const id of ['d-0', 'd-1']) h.agents.silent.add(id);
    await sleep(3000); // longer than agent_timeout
    await h.director.start(port);
    await waitFor('the director sync', () => !h.monitor.poller.unreachable);
    await sleep(1000); // within agent_timeout of the director's return
    h.agents.silent.clear();
    await sleep(3000);
    assert.deepEqual(h.director.scanAndFixCalls, []);
    assert.deepEqual(h.titles().filter((t) => t.includes('timed out')), []);
  } finally {
    await h.close();
  }
});

test('a stalled monitor does not mistake the queued heartbeats for dead agents', async () => {
  const h = await harness(['s-0', 's-1']);
  try {
    const until = Date.now() + 3000; // longer than agent_timeout
    while (Date.now() < until) {
      // the monitor's event loop is blocked, as under a long GC pause or a SIGSTOP
    }
    await sleep(3000);
    assert.deepEqual(h.titles().filter((t) => t.includes('timed out')), []);
    assert.deepEqual(h.director.scanAndFixCalls, []);
  } finally {
    await h.close();
  }
});

test('a locked deployment (a deploy is running) raises no alerts', async () => {
  const h = await harness(['l-0', 'l-1']);
  try {
    h.director.deployments[0]!.locked = true;
    await waitFor('the lock to be seen', () => h.monitor.registry.deployments.get('dep')?.locked);
    h.agents.silent.add('l-1');
    await sleep(3500);
    assert.deepEqual(h.titles().filter((t) => t.includes('timed out')), []);
  } finally {
    await h.close();
  }
});

test('an instance that expects a VM and has none raises "has no VM" and is resurrected', async () => {
  const h = await harness(['v-0']);
  try {
    h.director.deployments[0]!.instances.push({ agent_id: null, cid: null, job: 'db', index: 0, id: 'dep-db-0', az: 'z1', ips: [], vm_created_at: null, expects_vm: true });
    const alert = await waitFor('the no VM alert', () => h.alerts.find((a) => a.title === 'dep-db-0 has no VM'));
    assert.equal(alert.severity, 2);
    assert.equal(alert.category, 'vm_health');
    await waitFor('the aggregated alert', () => h.alerts.find((a) => a.title === 'dep has instances which do not have VMs'));
    const [call] = await waitFor('scan_and_fix', () => h.director.scanAndFixCalls.length > 0 && h.director.scanAndFixCalls);
    assert.deepEqual(JSON.parse(call!.body), { jobs: { db: ['dep-db-0'] } });
  } finally {
    await h.close();
  }
});

test('malformed payloads are logged and dropped; agent alerts are deduplicated by id; shutdown stops tracking', async () => {
  const h = await harness(['x-0', 'x-1'], []);
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({ servers: nats.url, tls: { caFile: pki.ca, certFile: pki.agentCert, keyFile: pki.agentKey } });
    nc.publish('hm.agent.heartbeat.bad-1', 'not json {');
    nc.publish('hm.agent.heartbeat.bad-2', '[1,2,3]');
    nc.publish('hm.agent.heartbeat.bad-3', JSON.stringify({ job_state: 5 }));
    nc.publish('hm.agent.alert.x-0', '{"id": ');
    nc.publish('hm.director.alert', JSON.stringify({ id: 'd1', severity: 3 }));
    const monitAlert = { id: 'monit-msg-1', severity: 1, title: 'nginx (10.0.0.5) - does not exist - restart', summary: 'process is not running', created_at: Math.floor(Date.now() / 1000) };
    nc.publish('hm.agent.alert.x-0', JSON.stringify(monitAlert));
    nc.publish('hm.agent.alert.x-0', JSON.stringify(monitAlert));
    nc.publish('hm.agent.alert.x-0', JSON.stringify({ ...monitAlert, id: 'monit-msg-2', severity: 'high' }));
    nc.publish('hm.director.alert', JSON.stringify({ id: 'director', severity: 4, title: 'deploy done', summary: 'ok', created_at: Math.floor(Date.now() / 1000) }));
    nc.publish('hm.agent.shutdown.x-1', 'null');
    await nc.flush();
    h.agents.silent.add('x-1');
    await waitFor('the agent alert', () => h.alerts.find((a) => a.id === 'monit-msg-1'));
    await waitFor('the director alert', () => h.alerts.find((a) => a.id === 'director'));
    await sleep(300);
    const fromAgent = h.alerts.filter((a) => a.id === 'monit-msg-1');
    assert.equal(fromAgent.length, 1, 'the duplicate id is dropped');
    assert.equal(fromAgent[0]!.source, 'dep: web(dep-web-0) [id=x-0, index=0, cid=vm-x-0]');
    assert.equal(fromAgent[0]!.deployment, 'dep');
    assert.ok(!h.alerts.some((a) => a.id === 'monit-msg-2'), 'a non-integer severity is invalid');
    assert.ok(!h.alerts.some((a) => a.id === 'd1'), 'a director alert without title is dropped');
    for (const bad of ['bad-1', 'bad-2', 'bad-3']) assert.ok(!h.monitor.registry.agents.has(bad), `${bad} is not tracked`);
    assert.ok(!h.monitor.registry.agents.has('x-1'), 'a shut down agent is no longer tracked');
    await sleep(100);
    // The monitor keeps working after all of that.
    const before = h.monitor.registry.heartbeatsReceived;
    await waitFor('more heartbeats', () => h.monitor.registry.heartbeatsReceived > before);
  } finally {
    await nc?.close();
    await h.close();
  }
});

test('an agent outside every deployment is reported as rogue', async () => {
  const h = await harness(['r-0'], []);
  const stranger = await SimulatedAgents.start(pki, nats.url, ['stranger'], '', 300);
  try {
    const rogue = await waitFor('the rogue alert', () => h.alerts.find((a) => a.title === 'stranger is not a part of any deployment'), 10_000);
    assert.equal(rogue.severity, 2);
    assert.equal(h.monitor.registry.agents.get('stranger')?.managed, false);
  } finally {
    await stranger.stop();
    await h.close();
  }
});

test('HTTP: counts per deployment, unmanaged agents, healthz and Prometheus metrics', async () => {
  const h = await harness(['h-0', 'h-1', 'h-2'], []);
  const stranger = await SimulatedAgents.start(pki, nats.url, ['loner'], '', 300);
  try {
    const base = `http://127.0.0.1:${h.monitor.httpPort}`;
    const get = async (path: string) => {
      const res = await fetch(base + path);
      return { status: res.status, text: await res.text() };
    };
    await h.agents.nc.publish('hm.agent.heartbeat.h-2', JSON.stringify({ deployment: 'dep', job: 'web', index: 2, job_state: 'failing', vitals: {}, node_id: 'x', number_of_processes: 1 }));
    h.agents.silent.add('h-2');
    h.agents.silent.add('h-1');
    await waitFor('h-1 to time out', () => h.alerts.find((a) => a.title === 'h-1 has timed out'));
    assert.equal((await get('/healthz')).status, 200);
    assert.deepEqual(JSON.parse((await get('/unresponsive_agents')).text), { dep: 2 });
    assert.deepEqual(JSON.parse((await get('/failing_instances')).text), { dep: 1 });
    assert.deepEqual(JSON.parse((await get('/stopped_instances')).text), { dep: 0 });
    assert.deepEqual(JSON.parse((await get('/unknown_instances')).text), { dep: 0 });
    assert.deepEqual(JSON.parse((await get('/unhealthy_agents')).text), { dep: 0 });
    await waitFor('the loner', () => h.monitor.registry.agents.has('loner'));
    assert.deepEqual(JSON.parse((await get('/total_available_agents')).text), { dep: 3, unmanaged: 1 });
    const metrics = await get('/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.text, /capstan_hm_instance_cpu_user_percent\{deployment="dep",job="web",index="0",instance_id="dep-web-0"\} 1\.5/);
    assert.match(metrics.text, /capstan_hm_agents\{deployment="dep",state="unresponsive"\} 2/);
    assert.match(metrics.text, /capstan_hm_agents\{deployment="unmanaged",state="running"\} 1/);
    assert.match(metrics.text, /capstan_hm_alerts_total\{severity="2"\} \d+/);
    assert.match(metrics.text, /capstan_hm_heartbeats_total \d+/);
  } finally {
    await stranger.stop();
    await h.close();
  }
});

test('HTTP counts answer 503 until the first director sync', async () => {
  const director = new FakeDirector(pki);
  await director.start();
  const port = director.port;
  await director.stop(); // nothing listens: the sync cannot happen
  director.port = port;
  const monitor = await startMonitor(testMonitorConfig(pki, nats.url, director), quiet);
  try {
    const res = await fetch(`http://127.0.0.1:${monitor.httpPort}/unresponsive_agents`);
    assert.equal(res.status, 503);
    assert.equal((await fetch(`http://127.0.0.1:${monitor.httpPort}/healthz`)).status, 200);
  } finally {
    await monitor.close();
  }
});

test('a plugin with invalid options stops the monitor from starting', async () => {
  const director = new FakeDirector(pki);
  await assert.rejects(
    startMonitor(testMonitorConfig(pki, nats.url, director, { plugins: [{ name: 'pagerduty', events: ['alert'], options: {} }] }), quiet),
    /Invalid options for plugin 'pagerduty': service_key/,
  );
  await assert.rejects(startMonitor(testMonitorConfig(pki, nats.url, director, { plugins: [{ name: 'datadog', events: ['alert'] }] }), quiet), /Unknown health monitor plugin 'datadog'/);
});
