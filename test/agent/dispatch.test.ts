// Action dispatch: the factory + the pure dispatcher + the task manager (agent-protocol.md §1.2-§1.5).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/common/logging.js';
import { createActionFactory } from '../../src/agent/actions/factory.js';
import { dispatch, encodeResponse, MAX_RESPONSE_BYTES, type ActionFactory } from '../../src/agent/mbus/dispatcher.js';
import { TaskManager } from '../../src/agent/mbus/task-manager.js';
import type { Action } from '../../src/agent/actions/action.js';
import type { AgentServices } from '../../src/agent/services.js';

function capturingLogger() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger('agent-test', sink as never, 'debug'), lines };
}

/** Controllable async action: finishes when the test resolves or rejects it. */
class GateAction implements Action {
  readonly isAsynchronous = true;
  readonly requiredArgs = 0;
  release!: (value: unknown) => void;
  fail!: (err: Error) => void;
  private markStarted!: () => void;
  readonly started = new Promise<void>((resolve) => (this.markStarted = resolve));
  constructor(readonly name: string) {}
  run(): Promise<unknown> {
    this.markStarted();
    return new Promise((resolve, reject) => {
      this.release = resolve;
      this.fail = reject;
    });
  }
}

function setup(extra: Record<string, () => Action> = {}) {
  const { logger, lines } = capturingLogger();
  const tasks = new TaskManager();
  // Only the actions under test touch services; the rest of AgentServices is never reached here.
  const real = createActionFactory({ tasks, logger } as unknown as AgentServices);
  const factory: ActionFactory = { create: (m) => (Object.hasOwn(extra, m) ? extra[m]() : real.create(m)) };
  const send = (body: unknown) => dispatch(typeof body === 'string' ? body : JSON.stringify(body), { factory, tasks, logger });
  return { send, tasks, lines };
}

test('ping answers pong to the reply_to of the body', async () => {
  const { send } = setup();
  const out = await send({ protocol: 3, method: 'ping', arguments: [], reply_to: 'director.abc.agent-1.req-1' });
  assert.deepEqual(out, { replyTo: 'director.abc.agent-1.req-1', method: 'ping', response: { value: 'pong' } });
});

test('info reports api_version 1', async () => {
  const { send } = setup();
  assert.deepEqual((await send({ method: 'info', reply_to: 'r' }))?.response, { value: { api_version: 1 } });
});

test('unknown and removed methods answer "unknown message <method>"', async () => {
  const { send } = setup();
  for (const method of ['configure_networks', 'state', 'toString', 'constructor']) {
    const out = await send({ method, arguments: [], reply_to: 'r' });
    assert.deepEqual(out?.response, { exception: { message: `unknown message ${method}` } });
  }
});

test('too few arguments give the Go agent error text; extra arguments are ignored', async () => {
  const { send } = setup();
  const out = await send({ method: 'get_task', arguments: [], reply_to: 'r' });
  assert.deepEqual(out?.response, {
    exception: { message: 'Action Failed get_task: Extracting method arguments from payload: Not enough arguments, expected 1, got 0' },
  });
  const extra = await send({ method: 'ping', arguments: ['disk-1', 'disk-2'], reply_to: 'r' });
  assert.deepEqual(extra?.response, { value: 'pong' });
});

test('a wrongly typed argument is reported as an unmarshalling error', async () => {
  const { send } = setup();
  const out = await send({ method: 'get_task', arguments: [42], reply_to: 'r' });
  assert.match((out?.response as { exception: { message: string } }).exception.message, /^Action Failed get_task: Unmarshalling action argument: /);
});

test('malformed JSON is logged and dropped without a reply', async () => {
  const { send, lines } = setup();
  assert.equal(await send('{"method":"ping", "reply_to": '), undefined);
  assert.ok(lines.some((l) => l.includes('dropping')));
});

test('async actions return a task handle; get_task reports running, then the bare value', async () => {
  let gate: GateAction | undefined;
  const { send } = setup({ slow: () => (gate = new GateAction('slow')) });
  const handle = await send({ method: 'slow', arguments: [], reply_to: 'r' });
  const value = (handle?.response as { value: { agent_task_id: string; state: string } }).value;
  assert.deepEqual(Object.keys(value).sort(), ['agent_task_id', 'state']);
  assert.equal(value.state, 'running');
  assert.match(value.agent_task_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

  await gate!.started;
  const running = await send({ method: 'get_task', arguments: [value.agent_task_id], reply_to: 'r' });
  assert.deepEqual(running?.response, { value: { agent_task_id: value.agent_task_id, state: 'running' } });

  gate!.release({ result: { blobstore_id: 'b', sha1: 's' } });
  await new Promise((r) => setImmediate(r));
  const done = await send({ method: 'get_task', arguments: [value.agent_task_id], reply_to: 'r' });
  assert.deepEqual(done?.response, { value: { result: { blobstore_id: 'b', sha1: 's' } } });
});

test('a failed task surfaces through get_task with the task id in the message', async () => {
  let gate: GateAction | undefined;
  const { send } = setup({ slow: () => (gate = new GateAction('slow')) });
  const handle = await send({ method: 'slow', reply_to: 'r' });
  const id = (handle?.response as { value: { agent_task_id: string } }).value.agent_task_id;
  await gate!.started;
  gate!.fail(new Error('Installing job: disk full'));
  await new Promise((r) => setImmediate(r));
  const out = await send({ method: 'get_task', arguments: [id], reply_to: 'r' });
  assert.deepEqual(out?.response, { exception: { message: `Action Failed get_task: Task ${id} result: Installing job: disk full` } });
});

test('get_task and cancel_task of an unknown id', async () => {
  const { send } = setup();
  assert.deepEqual((await send({ method: 'get_task', arguments: ['nope'], reply_to: 'r' }))?.response, {
    exception: { message: 'Action Failed get_task: Task with id nope could not be found' },
  });
  assert.deepEqual((await send({ method: 'cancel_task', arguments: ['nope'], reply_to: 'r' }))?.response, {
    exception: { message: 'Action Failed cancel_task: Task with id nope could not be found' },
  });
});

test('cancel_task: running non-cancellable task is "not supported"; finished task is "canceled"', async () => {
  let gate: GateAction | undefined;
  const { send } = setup({ slow: () => (gate = new GateAction('slow')) });
  const id = ((await send({ method: 'slow', reply_to: 'r' }))?.response as { value: { agent_task_id: string } }).value.agent_task_id;
  await gate!.started;
  assert.deepEqual((await send({ method: 'cancel_task', arguments: [id], reply_to: 'r' }))?.response, {
    exception: { message: 'Action Failed cancel_task: not supported' },
  });
  gate!.release('done');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual((await send({ method: 'cancel_task', arguments: [id], reply_to: 'r' }))?.response, { value: 'canceled' });
});

test('async tasks run one at a time, in arrival order', async () => {
  const gates: GateAction[] = [];
  const { send, tasks } = setup({ slow: () => { const g = new GateAction('slow'); gates.push(g); return g; } });
  const first = ((await send({ method: 'slow', reply_to: 'r' }))?.response as { value: { agent_task_id: string } }).value.agent_task_id;
  const second = ((await send({ method: 'slow', reply_to: 'r' }))?.response as { value: { agent_task_id: string } }).value.agent_task_id;
  await gates[0].started;
  let secondStarted = false;
  void gates[1].started.then(() => (secondStarted = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(secondStarted, false, 'second task must wait for the first');
  gates[0].release(1);
  await gates[1].started;
  gates[1].release(2);
  await tasks.idle();
  assert.equal(tasks.get(first)?.value, 1);
  assert.equal(tasks.get(second)?.value, 2);
});

test('responses over 1 MiB: long exceptions keep head and tail, long values become an exception', () => {
  const big = 'a'.repeat(600_000) + 'MIDDLE' + 'z'.repeat(600_000);
  const exception = encodeResponse({ exception: { message: big } });
  assert.ok(Buffer.byteLength(exception) <= MAX_RESPONSE_BYTES);
  const message = (JSON.parse(exception) as { exception: { message: string } }).exception.message;
  assert.ok(message.startsWith('aaaa') && message.endsWith('zzzz'));
  assert.ok(message.includes('\n...[truncated]...\n'));
  assert.ok(!message.includes('MIDDLE'));

  const value = encodeResponse({ value: { stdout: big } });
  assert.deepEqual(JSON.parse(value), { exception: { message: 'Response exceeded maximum allowed length' } });

  const small = encodeResponse({ value: 'pong' });
  assert.equal(small, '{"value":"pong"}');
});
