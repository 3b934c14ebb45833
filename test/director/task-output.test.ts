// Task output over HTTP: the Range semantics the CLI's event polling relies on (director-api.md §2.2).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, startTestDirector, type TestDirector } from './helpers.js';

let director: TestDirector;
let temp: ReturnType<typeof makeTempDir>;
let taskId: number;
let emptyTaskId: number;
// Multi-byte characters: offsets are bytes, as the CLI counts them.
const EVENTS = '{"time":1,"stage":"Ünïcode","tags":[],"total":1,"task":"a","index":1,"state":"started","progress":0}\n';
const RESULT = '{"vm_cid":"x"}\n{"vm_cid":"y"}\n';

before(async () => {
  temp = makeTempDir('director-output');
  director = await startTestDirector(temp.dir);
  const insert = (values: Record<string, unknown>) =>
    director.director.db
      .insertInto('tasks')
      .values({
        state: 'done', type: 'vms', description: 'retrieve vm-stats', result: '', timestamp: 1, started_at: 1,
        checkpoint_time: 1, username: 'admin', deployment_name: 'd', context_id: '', payload_json: '{}', ...values,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
  taskId = (await insert({ event_output: EVENTS, result_output: RESULT })).id;
  emptyTaskId = (await insert({})).id;
  mkdirSync(join(director.config.base_dir, 'tasks', String(taskId)), { recursive: true });
  writeFileSync(join(director.config.base_dir, 'tasks', String(taskId), 'debug'), 'debug line 1\ndebug line 2\n');
});
after(async () => {
  await director.close();
  temp.remove();
});

test('without Range the whole output comes back with 200', async () => {
  const res = await director.request('GET', `/tasks/${taskId}/output?type=event`);
  assert.equal(res.status, 200);
  assert.equal(res.text, EVENTS);
  assert.equal(res.headers['content-range'], undefined);
});

test('Range bytes=N- answers 206 with the rest and a Content-Range', async () => {
  const size = Buffer.byteLength(EVENTS);
  const res = await director.request('GET', `/tasks/${taskId}/output?type=event`, { headers: { range: 'bytes=20-' } });
  assert.equal(res.status, 206);
  assert.equal(res.headers['content-range'], `bytes 20-${size - 1}/${size}`);
  assert.deepEqual(res.body, Buffer.from(EVENTS).subarray(20));

  const fromStart = await director.request('GET', `/tasks/${taskId}/output?type=result`, { headers: { range: 'bytes=0-' } });
  assert.equal(fromStart.status, 206);
  assert.equal(fromStart.text, RESULT);
});

test('an offset at or past the end answers 416 with bytes */size', async () => {
  const size = Buffer.byteLength(EVENTS);
  for (const offset of [size, size + 10]) {
    const res = await director.request('GET', `/tasks/${taskId}/output?type=event`, { headers: { range: `bytes=${offset}-` } });
    assert.equal(res.status, 416);
    assert.equal(res.headers['content-range'], `bytes */${size}`);
    assert.equal(res.body.length, 0);
  }
});

test('empty output answers 204, with or without Range, and for type=none', async () => {
  for (const headers of [{}, { range: 'bytes=0-' }] as Array<Record<string, string>>) {
    const res = await director.request('GET', `/tasks/${emptyTaskId}/output?type=event`, { headers });
    assert.equal(res.status, 204);
    assert.equal(res.body.length, 0);
  }
  assert.equal((await director.request('GET', `/tasks/${taskId}/output?type=none`)).status, 204);
  assert.equal((await director.request('GET', `/tasks/${emptyTaskId}/output?type=debug`)).status, 204);
});

test('debug output (the default type) is the task debug file, ranges included', async () => {
  const whole = await director.request('GET', `/tasks/${taskId}/output`);
  assert.equal(whole.status, 200);
  assert.equal(whole.text, 'debug line 1\ndebug line 2\n');
  const rest = await director.request('GET', `/tasks/${taskId}/output?type=debug`, { headers: { range: 'bytes=13-' } });
  assert.equal(rest.status, 206);
  assert.equal(rest.text, 'debug line 2\n');
  assert.equal(rest.headers['content-range'], 'bytes 13-25/26');
});
