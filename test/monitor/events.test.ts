// Heartbeat and Alert: validation and the formats plugins send (health-monitor.md A.4).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AlertEvent, severityName } from '../../src/monitor/events/alert.js';
import { InvalidEvent } from '../../src/monitor/events/event.js';
import { HeartbeatEvent } from '../../src/monitor/events/heartbeat.js';

const at = Date.UTC(2026, 10, 21, 12, 0, 0) / 1000;

test('alert: formats', () => {
  const a = new AlertEvent({ id: 'x', severity: 2, title: 'nginx - does not exist', summary: 'gone', source: 'dep: web(1)', deployment: 'dep', created_at: at });
  assert.equal(a.toString(), 'Alert @ 2026-11-21 12:00:00 UTC, severity 2: gone');
  assert.equal(a.shortDescription(), 'Severity 2: dep: web(1) nginx - does not exist');
  assert.equal(a.toPlainText(), 'dep: web(1)\nnginx - does not exist\nSeverity: 2\nSummary: gone\nTime: 2026-11-21 12:00:00 UTC');
  assert.deepEqual(a.toHash(), { kind: 'alert', id: 'x', severity: 2, category: null, title: 'nginx - does not exist', summary: 'gone', source: 'dep: web(1)', deployment: 'dep', created_at: at });
  assert.equal(new AlertEvent({ severity: 4, title: 't', created_at: String(at) }).summary, 't', 'summary defaults to the title');
  assert.deepEqual([1, 2, 3, 4, -1, 7].map(severityName), ['alert', 'critical', 'error', 'warning', 'ignored', '7']);
});

test('alert: validation collects every problem', () => {
  assert.throws(() => new AlertEvent({ severity: -1, created_at: 'yesterday-ish' }), (err: unknown) => {
    assert.ok(err instanceof InvalidEvent);
    assert.deepEqual(err.problems, ['severity is invalid non-negative integer', 'title is missing', 'created_at is invalid timestamp']);
    return true;
  });
  assert.throws(() => new AlertEvent({ severity: 2, title: 't' }), /created_at is missing/);
});

test('heartbeat: metrics, hash and text', () => {
  const hb = new HeartbeatEvent({
    timestamp: at,
    deployment: 'dep',
    agent_id: 'a-1',
    job: 'web',
    index: 0,
    instance_id: 'uuid',
    job_state: 'failing',
    vitals: { cpu: { user: '1.0', sys: '2.0', wait: '3.0' }, load: ['0.5', '0.4', '0.3'], disk: { persistent: { percent: '7', inode_percent: '1' } } },
  });
  assert.equal(hb.toString(), 'Heartbeat from web/uuid (agent_id=a-1, index=0) @ 2026-11-21 12:00:00 UTC');
  const names = hb.metrics.map((m) => `${m.name}=${m.value}`);
  assert.deepEqual(names, ['system.load.1m=0.5', 'system.cpu.user=1.0', 'system.cpu.sys=2.0', 'system.cpu.wait=3.0', 'system.disk.persistent.percent=7', 'system.disk.persistent.inode_percent=1', 'system.healthy=0']);
  assert.deepEqual(hb.metrics[0]!.tags, { job: 'web', index: '0', id: 'uuid' });
  const hash = hb.toHash();
  assert.equal(hash.index, '0');
  assert.equal('number_of_processes' in hash, false, 'only when the agent sent it');
  assert.throws(() => new HeartbeatEvent({ timestamp: 'not a time' }), /timestamp is invalid/);
});
