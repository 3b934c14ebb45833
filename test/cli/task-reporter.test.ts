import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TaskEventReporter } from '../../src/cli/renderers/task-reporter.js';
import { TextUi } from '../../src/cli/ui.js';

// 2026-11-21 12:01:02 UTC
const T0 = Date.UTC(2026, 10, 21, 12, 1, 2) / 1000;

function render(id: number, chunks: string[], state = 'done', mode: 'events' | 'raw' = 'events'): string {
  let out = '';
  const sink = { write: (s: string) => (out += s) };
  const ui = new TextUi(sink, sink);
  const reporter = new TaskEventReporter(ui, mode);
  reporter.taskStarted(id);
  for (const c of chunks) reporter.taskOutputChunk(id, Buffer.from(c));
  reporter.taskFinished(id, state);
  return out;
}

const ev = (o: Record<string, unknown>) => JSON.stringify(o) + '\n';
const step = (time: number, stage: string, task: string, state: string, extra: Record<string, unknown> = {}) =>
  ev({ time, stage, tags: [], total: 1, task, index: 1, state, progress: state === 'started' ? 0 : 100, ...extra });

test('a started/finished pair renders as one line with its duration', () => {
  const out = render(7, [
    step(T0, 'Compiling packages', 'nginx/abc123', 'started'),
    step(T0 + 41, 'Compiling packages', 'nginx/abc123', 'finished'),
  ]);
  assert.equal(
    out,
    'Task 7\n\nTask 7 | 12:01:02 | Compiling packages: nginx/abc123 (00:00:41)\n\n' +
      'Task 7 Started  Sat Nov 21 12:01:02 UTC 2026\nTask 7 Finished Sat Nov 21 12:01:43 UTC 2026\nTask 7 Duration 00:00:41\nTask 7 done\n',
  );
});

test('interleaved events: a finish after other output gets its own line', () => {
  const out = render(7, [
    ev({ time: T0, stage: 'Creating missing vms', tags: [], total: 2, task: 'nginx/a (0)', index: 1, state: 'started', progress: 0 }),
    ev({ time: T0, stage: 'Creating missing vms', tags: [], total: 2, task: 'nginx/b (1)', index: 2, state: 'started', progress: 0 }),
    ev({ time: T0 + 3, stage: 'Creating missing vms', tags: [], total: 2, task: 'nginx/a (0)', index: 1, state: 'finished', progress: 100 }),
    ev({ time: T0 + 5, stage: 'Creating missing vms', tags: [], total: 2, task: 'nginx/b (1)', index: 2, state: 'finished', progress: 100 }),
  ]);
  const lines = out.split('\n').filter((l) => l.includes(' | '));
  assert.deepEqual(lines, [
    'Task 7 | 12:01:02 | Creating missing vms: nginx/a (0)',
    'Task 7 | 12:01:02 | Creating missing vms: nginx/b (1)',
    'Task 7 | 12:01:05 | Creating missing vms: nginx/a (0) (00:00:03)',
    'Task 7 | 12:01:07 | Creating missing vms: nginx/b (1) (00:00:05)',
  ]);
});

test('tags follow the stage name', () => {
  const out = render(7, [
    ev({ time: T0, stage: 'Updating instance', tags: ['nginx'], total: 1, task: 'nginx/u (0) (canary)', index: 1, state: 'started', progress: 0 }),
    ev({ time: T0 + 120, stage: 'Updating instance', tags: ['nginx'], total: 1, task: 'nginx/u (0) (canary)', index: 1, state: 'finished', progress: 100 }),
  ]);
  assert.match(out, /^Task 7 \| 12:01:02 \| Updating instance nginx: nginx\/u \(0\) \(canary\) \(00:02:00\)$/m);
});

test('a failed step prints the L Error line, the task error and the final state', () => {
  const msg = "'nginx/u (0)' is not running after update. Review logs for failed jobs: nginx";
  const out = render(
    610,
    [
      ev({ time: T0, stage: 'Updating instance', tags: ['nginx'], total: 1, task: 'nginx/u (0) (canary)', index: 1, state: 'started', progress: 0 }),
      ev({ time: T0 + 120, stage: 'Updating instance', tags: ['nginx'], total: 1, task: 'nginx/u (0) (canary)', index: 1, state: 'failed', progress: 100, data: { error: msg } }),
      ev({ time: T0 + 121, error: { code: 400007, message: msg } }),
    ],
    'error',
  );
  assert.equal(
    out,
    'Task 610\n\n' +
      'Task 610 | 12:01:02 | Updating instance nginx: nginx/u (0) (canary) (00:02:00)\n' +
      `                    L Error: ${msg}\n` +
      `Task 610 | 12:03:03 | Error: ${msg}\n\n` +
      'Task 610 Started  Sat Nov 21 12:01:02 UTC 2026\nTask 610 Finished Sat Nov 21 12:03:03 UTC 2026\nTask 610 Duration 00:02:01\nTask 610 error\n',
  );
});

test('in_progress events print L <status> lines and the finish then gets its own line', () => {
  const out = render(7, [
    step(T0, 'Updating instance', 'nginx/u (0)', 'started'),
    ev({ time: T0 + 1, stage: 'Updating instance', tags: [], total: 1, task: 'nginx/u (0)', index: 1, state: 'in_progress', progress: 50, data: { status: 'executing pre-start' } }),
    step(T0 + 4, 'Updating instance', 'nginx/u (0)', 'finished'),
  ]);
  const lines = out.split('\n').filter((l) => l.includes(' | '));
  assert.deepEqual(lines, [
    'Task 7 | 12:01:02 | Updating instance: nginx/u (0)',
    'Task 7 | 12:01:03 | L executing pre-start: nginx/u (0)',
    'Task 7 | 12:01:06 | Updating instance: nginx/u (0) (00:00:04)',
  ]);
});

test('events split across chunks (even inside a UTF-8 character) are buffered until the newline', () => {
  const whole = Buffer.from(step(T0, 'Preparing deployment', 'Rendering templates ✓', 'started') + step(T0, 'Preparing deployment', 'Rendering templates ✓', 'finished'));
  const cut = whole.indexOf(Buffer.from('✓')) + 1; // in the middle of the 3-byte character
  let out = '';
  const sink = { write: (s: string) => (out += s) };
  const reporter = new TaskEventReporter(new TextUi(sink, sink));
  reporter.taskStarted(9);
  reporter.taskOutputChunk(9, whole.subarray(0, cut));
  reporter.taskOutputChunk(9, whole.subarray(cut, cut + 7));
  reporter.taskOutputChunk(9, whole.subarray(cut + 7));
  reporter.taskFinished(9, 'done');
  assert.match(out, /^Task 9 \| 12:01:02 \| Preparing deployment: Rendering templates ✓ \(00:00:00\)$/m);
});

test('warnings and deprecations', () => {
  const out = render(7, [ev({ time: T0, type: 'warning', message: 'You have ignored instances.' })]);
  assert.match(out, /^Task 7 \| 12:01:02 \| Warning: You have ignored instances\.$/m);
});

test('a task without output ends on its own line: "Task 57. Done"', () => {
  assert.equal(render(57, []), 'Task 57. Done\n');
});

test('a line that is not JSON is an error', () => {
  assert.throws(() => render(7, ['not json\n']), /not JSON/);
});

test('raw output (--debug, --result) is printed as it comes', () => {
  assert.equal(render(3, ['line 1\nline', ' 2\n'], 'done', 'raw'), 'Task 3\n\nline 1\nline 2\n\nTask 3 done\n');
});
