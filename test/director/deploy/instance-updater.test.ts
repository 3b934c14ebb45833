// The instance updater against in-memory agents: canaries first, the stop/apply/start sequence sent
// to each agent, the events the CLI shows, and the exact "not running after update" failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ApplySpec } from '../../../src/common/protocol.js';
import { updateInstanceGroup, watchSchedule, type InstanceUpdate, type UpdaterOptions } from '../../../src/director/deploy/instance-updater.js';
import type { UpdateBlock } from '../../../src/manifest/types.js';
import { FakeAgents, RecordingEventLog } from './fakes.js';

const update: UpdateBlock = { canaries: 1, max_in_flight: 1, canary_watch_time: { min: 1000, max: 3000 }, update_watch_time: { min: 1000, max: 3000 } };

function instance(i: number, extra: Partial<InstanceUpdate> = {}): InstanceUpdate {
  const id = `0000000${i}-aaaa-4bbb-8ccc-dddddddddddd`;
  const spec: ApplySpec = { deployment: 'web', name: 'nginx', index: i, id, networks: {}, configuration_hash: 'abc' };
  return { name: `nginx/${id} (${i})`, agentId: `agent-${i}`, spec, hasRunningJobs: false, start: true, ...extra };
}

function options(agents: FakeAgents, events: RecordingEventLog, updated: string[] = []): UpdaterOptions {
  return { agents, events, update, sleep: async () => {}, onUpdated: async (u) => void updated.push(u.name) };
}

test('watch schedule: min first, then steps of (max-min)/9 clamped to 1..15 s', () => {
  assert.deepEqual(watchSchedule(1000, 1000), [1000]);
  assert.deepEqual(watchSchedule(1000, 3000), [1000, 1000, 1000]);
  const long = watchSchedule(5000, 300_000);
  assert.equal(long[0], 5000);
  assert.ok(long.slice(1).every((s) => s === 15_000));
  assert.equal(long.length, 1 + Math.floor(295_000 / 15_000));
});

test('a new instance is applied, started and watched; canary first, then the rest', async () => {
  const agents = new FakeAgents();
  const events = new RecordingEventLog();
  const updated: string[] = [];
  const [a, b] = [instance(0), instance(1)];
  await updateInstanceGroup('nginx', [a, b], options(agents, events, updated));

  assert.deepEqual(agents.methods('agent-0'), ['apply', 'run_script pre-start', 'start', 'get_state', 'run_script post-start']);
  assert.deepEqual(agents.calls.find((c) => c.method === 'apply')!.args, [a.spec]);
  assert.deepEqual(updated, [a.name, b.name]);
  assert.deepEqual(events.lines, [
    `Updating instance nginx | ${a.name} (canary) | started`,
    `Updating instance nginx | ${a.name} (canary) | in_progress | installing packages`,
    `Updating instance nginx | ${a.name} (canary) | in_progress | configuring jobs`,
    `Updating instance nginx | ${a.name} (canary) | in_progress | executing pre-start`,
    `Updating instance nginx | ${a.name} (canary) | in_progress | starting jobs`,
    `Updating instance nginx | ${a.name} (canary) | in_progress | executing post-start`,
    `Updating instance nginx | ${a.name} (canary) | finished`,
    `Updating instance nginx | ${b.name} | started`,
    `Updating instance nginx | ${b.name} | in_progress | installing packages`,
    `Updating instance nginx | ${b.name} | in_progress | configuring jobs`,
    `Updating instance nginx | ${b.name} | in_progress | executing pre-start`,
    `Updating instance nginx | ${b.name} | in_progress | starting jobs`,
    `Updating instance nginx | ${b.name} | in_progress | executing post-start`,
    `Updating instance nginx | ${b.name} | finished`,
  ]);
});

test('an instance with running jobs is drained and stopped before apply; unknown run_script is fine', async () => {
  const agents = new FakeAgents({
    run_script: () => {
      throw new Error('unknown message run_script');
    },
  });
  const running = instance(0, { hasRunningJobs: true });
  await updateInstanceGroup('nginx', [running], options(agents, new RecordingEventLog()));
  assert.deepEqual(agents.methods(), [
    'run_script pre-stop', 'drain', 'stop', 'run_script post-stop', 'apply', 'run_script pre-start', 'start', 'get_state', 'run_script post-start',
  ]);
  assert.deepEqual(agents.calls.find((c) => c.method === 'drain')!.args, ['update', running.spec]);
});

test('a job that never runs fails the canary with the exact BOSH text and stops the group', async () => {
  let polls = 0;
  const agents = new FakeAgents({
    get_state: () => {
      polls++;
      return {
        agent_id: 'agent-0', job_state: 'failing', vm: { name: 'vm' },
        processes: [{ name: 'nginx', state: 'failing' }, { name: 'helper', state: 'running' }, { name: 'sidecar', state: 'unknown' }],
      };
    },
  });
  const events = new RecordingEventLog();
  const [a, b] = [instance(0), instance(1)];
  const expected = `'${a.name}' is not running after update. Review logs for failed jobs: nginx, sidecar`;
  await assert.rejects(updateInstanceGroup('nginx', [a, b], options(agents, events)), (err: Error) => {
    assert.equal(err.message, expected);
    return true;
  });
  assert.equal(polls, watchSchedule(1000, 3000).length, 'get_state is polled once per watch step');
  assert.equal(events.lines.at(-1), `Updating instance nginx | ${a.name} (canary) | failed | ${expected}`);
  assert.ok(!agents.calls.some((c) => c.agentId === 'agent-1'), 'no instance is updated after a failed canary');
  assert.ok(!agents.methods().includes('run_script post-start'));
});

test('without failing processes the message has no job list', async () => {
  const agents = new FakeAgents({ get_state: () => ({ agent_id: 'a', job_state: 'starting', vm: { name: 'vm' } }) });
  const a = instance(0);
  await assert.rejects(updateInstanceGroup('nginx', [a], options(agents, new RecordingEventLog())), {
    message: `'${a.name}' is not running after update.`,
  });
});

test('errand instances are applied but not started', async () => {
  const agents = new FakeAgents();
  await updateInstanceGroup('smoke-test', [instance(0, { start: false })], options(agents, new RecordingEventLog()));
  assert.deepEqual(agents.methods(), ['apply']);
});
