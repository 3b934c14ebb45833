// The event log lines the CLI renders (director-api.md §4.3) and the error result truncation (§4.1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TaskEventLog } from '../../src/director/tasks/events.js';
import { truncateErrorResult } from '../../src/director/tasks/queue.js';
import { CapstanError } from '../../src/common/errors.js';

function capture() {
  const lines: string[] = [];
  return { log: new TaskEventLog((line) => lines.push(line)), lines, events: () => lines.map((l) => JSON.parse(l)) };
}

test('a tracked step writes started then finished, one JSON object per line', async () => {
  const { log, lines, events } = capture();
  const stage = log.beginStage('Updating instance', 2, ['nginx']);
  const value = await stage.track('nginx/abc (0) (canary)', async (step) => {
    step.status('executing pre-start');
    return 42;
  });
  assert.equal(value, 42);
  assert.ok(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n')));
  const [started, progress, finished] = events();
  for (const e of [started, progress, finished]) assert.equal(typeof e.time, 'number');
  const base = { stage: 'Updating instance', tags: ['nginx'], total: 2, task: 'nginx/abc (0) (canary)', index: 1 };
  assert.deepEqual({ ...started, time: 0 }, { time: 0, ...base, state: 'started', progress: 0 });
  assert.deepEqual({ ...progress, time: 0 }, { time: 0, ...base, state: 'in_progress', progress: 0, data: { status: 'executing pre-start' } });
  assert.deepEqual({ ...finished, time: 0 }, { time: 0, ...base, state: 'finished', progress: 100 });
  assert.deepEqual(Object.keys(started), ['time', 'stage', 'tags', 'total', 'task', 'index', 'state', 'progress']);
});

test('steps of a stage are numbered from 1; a failing step writes failed with data.error and rethrows', async () => {
  const { log, events } = capture();
  const stage = log.beginStage('Compiling packages', null);
  await stage.track('ruby/1', async () => undefined);
  await assert.rejects(stage.track('nginx/2', async () => { throw new Error('compile failed'); }), /compile failed/);
  const all = events();
  assert.deepEqual(all.map((e) => [e.index, e.state]), [[1, 'started'], [1, 'finished'], [2, 'started'], [2, 'failed']]);
  assert.deepEqual(all[3].data, { error: 'compile failed' });
  assert.equal(all[3].progress, 100);
  assert.equal(all[3].total, null);
  assert.deepEqual(all[3].tags, []);
});

test('task-level error and warning events', () => {
  const { log, events } = capture();
  log.error(new CapstanError('Deployment not found', 70000, 404));
  log.error(new Error('boom'));
  log.warning('careful');
  const [named, generic, warning] = events();
  assert.deepEqual(named.error, { code: 70000, message: 'Deployment not found' });
  assert.deepEqual(generic.error, { code: 100, message: 'boom' });
  assert.deepEqual({ ...warning, time: 0 }, { time: 0, type: 'warning', message: 'careful' });
});

test('error results are stripped and cut at a word boundary with ...', () => {
  assert.equal(truncateErrorResult('  short message \n'), 'short message');
  const long = `${'word '.repeat(40)}end`;
  const cut = truncateErrorResult(long);
  assert.ok(cut.endsWith('word...'));
  assert.ok(cut.length <= 131);
  assert.equal(truncateErrorResult('x'.repeat(200)), `${'x'.repeat(128)}...`);
});
