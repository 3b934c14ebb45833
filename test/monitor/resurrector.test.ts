// The resurrector's decisions against a fake director over HTTPS: meltdown thresholds, the
// running scan-and-fix check, resurrection configs, and waiting for a mass failure to settle.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../src/common/logging.js';
import { AgentRegistry } from '../../src/monitor/agents.js';
import { parseMonitorConfig } from '../../src/monitor/config.js';
import { DirectorClient } from '../../src/monitor/director-client.js';
import { AlertEvent, type AlertAttributes } from '../../src/monitor/events/alert.js';
import { resurrectorPlugin } from '../../src/monitor/plugins/resurrector.js';
import { validateOptions, type PluginContext } from '../../src/monitor/plugins/plugin.js';
import { ResurrectionRules } from '../../src/monitor/resurrection-config.js';
import { cleanupPki, FakeDirector, makePki } from './helpers.js';

const pki = makePki();
after(() => cleanupPki(pki));

async function setup(size: number, options: Record<string, unknown> = {}) {
  const director = new FakeDirector(pki);
  await director.start();
  director.addDeployment('dep', Array.from({ length: size }, (_, i) => `a-${i}`));
  const registry = new AgentRegistry();
  registry.syncDeployments(director.deployments.map((d) => ({ ...d, teams: [] })), Date.now());
  const access = { endpoint: `https://127.0.0.1:${director.port}`, user: director.user, password: director.password, ca_cert: pki.ca };
  const emitted: AlertAttributes[] = [];
  const resurrection = new ResurrectionRules();
  const config = parseMonitorConfig({ mbus: { endpoint: 'nats://x', server_ca_path: '', client_certificate_path: '', client_private_key_path: '' }, director: access });
  const ctx: PluginContext = { logger: createLogger('t', undefined, 'silent'), registry, director: new DirectorClient(access), directorAccess: access, intervals: config.intervals, resurrection, emitAlert: (a) => void emitted.push(a) };
  const plugin = resurrectorPlugin.create(validateOptions('resurrector', resurrectorPlugin, { settle_period: 0, ...options }), ctx);
  const down = (n: number, severity = 2) =>
    plugin.process(new AlertEvent({ severity, category: 'deployment_health', title: 'dep has instances with timed out agents', deployment: 'dep', created_at: Math.floor(Date.now() / 1000), jobs_to_instance_ids: { web: Array.from({ length: n }, (_, i) => `dep-web-${i}`) } }));
  return { director, emitted, resurrection, down, close: () => (ctx.director.close(), director.stop()) };
}

test('below minimum_down_jobs: scan_and_fix for the named instances', async () => {
  const s = await setup(10);
  try {
    await s.down(4);
    assert.equal(s.director.scanAndFixCalls.length, 1);
    assert.deepEqual(JSON.parse(s.director.scanAndFixCalls[0]!.body), { jobs: { web: ['dep-web-0', 'dep-web-1', 'dep-web-2', 'dep-web-3'] } });
    assert.equal(s.emitted.find((a) => a.title === 'Scan unresponsive VMs')?.severity, 4);
  } finally {
    await s.close();
  }
});

test('meltdown needs both thresholds: count >= minimum_down_jobs and count/total >= percent_threshold', async () => {
  const big = await setup(100);
  try {
    await big.down(5); // 5 of 100 = 5% < 20%: not a meltdown
    assert.equal(big.director.scanAndFixCalls.length, 1);
  } finally {
    await big.close();
  }
  const small = await setup(10);
  try {
    await small.down(5); // 5 >= 5 and 50% >= 20%
    assert.equal(small.director.scanAndFixCalls.length, 0);
    assert.equal(small.emitted.find((a) => a.title === 'We are in meltdown')?.severity, 1);
  } finally {
    await small.close();
  }
});

test('no second scan_and_fix while one is queued or running', async () => {
  const s = await setup(10);
  try {
    s.director.tasks.push({ id: 7, description: 'scan and fix', state: 'processing', deployment: 'dep' });
    await s.down(1);
    assert.equal(s.director.scanAndFixCalls.length, 0);
  } finally {
    await s.close();
  }
});

test('resurrection configs: disabled instance groups are alerted, not resurrected', async () => {
  const s = await setup(10);
  try {
    s.resurrection.update(['rules:\n- enabled: false\n  include:\n    deployments: [dep]\n    instance_groups: [web]\n']);
    await s.down(1);
    assert.equal(s.director.scanAndFixCalls.length, 0);
    assert.equal(s.emitted.find((a) => a.title === 'Resurrection is disabled by resurrection config')?.severity, 1);
  } finally {
    await s.close();
  }
});

test('only critical alerts count; a growing failure waits settle_period before acting', async () => {
  const s = await setup(10, { settle_period: 0.5 });
  try {
    await s.down(2, 3);
    assert.equal(s.director.scanAndFixCalls.length, 0, 'severity 3 records nothing');
    await s.down(2);
    await s.down(3); // grew: wait
    assert.equal(s.director.scanAndFixCalls.length, 0);
    await sleep(600);
    await s.down(3); // stable for settle_period: act
    assert.equal(s.director.scanAndFixCalls.length, 1);
  } finally {
    await s.close();
  }
});

test('resurrection rules: every rule that applies must be enabled', () => {
  const rules = new ResurrectionRules();
  assert.equal(rules.isEnabled('dep', 'web'), true, 'enabled by default');
  rules.update(['rules:\n- enabled: false\n  exclude:\n    instance_groups: [db]\n', 'rules:\n- enabled: true\n']);
  assert.equal(rules.isEnabled('dep', 'web'), false);
  assert.equal(rules.isEnabled('dep', 'db'), true);
  assert.equal(rules.update(['rules:\n- enabled: false\n  exclude:\n    instance_groups: [db]\n', 'rules:\n- enabled: true\n']), false, 'unchanged content is not reparsed');
});
