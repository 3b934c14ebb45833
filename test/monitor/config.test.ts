// The monitor's config file: YAML (or JSON), documented defaults, errors that name the key.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMonitorConfig } from '../../src/monitor/config.js';

const dir = mkdtempSync(join(tmpdir(), 'capstan-hm-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const minimal = `
mbus:
  endpoint: nats://127.0.0.1:4222
  server_ca_path: /certs/ca.pem
  client_certificate_path: /certs/hm.pem
  client_private_key_path: /certs/hm.key
director:
  endpoint: https://127.0.0.1:25555
  user: hm
  password: secret
`;

test('defaults: intervals, HTTP on loopback 25923, no plugins', () => {
  writeFileSync(join(dir, 'a.yml'), minimal);
  const config = loadMonitorConfig(join(dir, 'a.yml'));
  assert.deepEqual(config.intervals, { prune_events: 30, poll_director: 60, poll_grace_period: 30, log_stats: 60, analyze_agents: 60, agent_timeout: 60, rogue_agent_alert: 120, analyze_instances: 60, resurrection_config: 60 });
  assert.deepEqual(config.http, { host: '127.0.0.1', port: 25923 });
  assert.equal(config.mbus.connection_wait_timeout, 60);
  assert.deepEqual(config.plugins, []);
});

test('partial intervals keep the other defaults; plugins default to alert events', () => {
  writeFileSync(join(dir, 'b.yml'), `${minimal}intervals:\n  agent_timeout: 90\nplugins:\n- name: logger\n`);
  const config = loadMonitorConfig(join(dir, 'b.yml'));
  assert.equal(config.intervals.agent_timeout, 90);
  assert.equal(config.intervals.analyze_agents, 60);
  assert.deepEqual(config.plugins, [{ name: 'logger', events: ['alert'], options: {} }]);
});

test('errors name the file and the key', () => {
  writeFileSync(join(dir, 'c.yml'), minimal.replace('  user: hm\n', ''));
  assert.throws(() => loadMonitorConfig(join(dir, 'c.yml')), /Invalid health monitor config .*c\.yml: director\.user/);
});
