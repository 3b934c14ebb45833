// Updates go AZ by AZ with canaries from the first AZ; max_in_flight as a percentage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ApplySpec } from '../../../src/common/protocol.js';
import { resolveCount, updateInstanceGroup, type InstanceUpdate } from '../../../src/director/deploy/instance-updater.js';
import { FakeAgents, RecordingEventLog } from './fakes.js';

function instance(i: number, az: string): InstanceUpdate {
  const id = `0000000${i}-aaaa-4bbb-8ccc-dddddddddddd`;
  const spec: ApplySpec = { deployment: 'd', name: 'web', index: i, id, az, networks: {}, configuration_hash: 'abc' };
  return { name: `web/${id} (${i})`, agentId: `agent-${i}`, spec, hasRunningJobs: false, start: true };
}

test('canaries come from the first AZ, the first AZ finishes before the second starts', async () => {
  const events = new RecordingEventLog();
  const updates = [instance(0, 'z1'), instance(1, 'z2'), instance(2, 'z1'), instance(3, 'z2'), instance(4, 'z1')];
  await updateInstanceGroup('web', updates, {
    agents: new FakeAgents(), events, sleep: async () => {},
    update: { canaries: 2, max_in_flight: '50%', canary_watch_time: { min: 1, max: 1 }, update_watch_time: { min: 1, max: 1 } },
  });
  const order = events.lines
    .filter((l) => / \| (started|finished)$/.test(l))
    .map((l) => `${l.split(' | ')[1].replace(/^web\/0+(\d)-[-a-f0-9]+ \(\d\)/, '$1')} ${l.split(' | ')[2]}`);
  const finishedZ1 = Math.max(...['0 (canary)', '2 (canary)', '4'].map((n) => order.indexOf(`${n} finished`)));
  const startedZ2 = Math.min(...['1', '3'].map((n) => order.indexOf(`${n} started`)));
  assert.ok(order.includes('0 (canary) started') && order.includes('2 (canary) started'), order.join(', '));
  assert.ok(finishedZ1 < startedZ2, order.join(', '));
  assert.equal(resolveCount('50%', 5), 2);
  assert.equal(resolveCount('10%', 5), 1);
});
