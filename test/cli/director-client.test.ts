import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DirectorClient, TaskError } from '../../src/cli/director-client.js';
import { TaskEventReporter } from '../../src/cli/renderers/task-reporter.js';
import { TextUi } from '../../src/cli/ui.js';
import { event, PASSWORD, startFakeDirector, T0, USER, type FakeDirector } from './fake-director.js';

let fake: FakeDirector;
before(async () => {
  fake = await startFakeDirector();
});
after(async () => {
  await fake.close();
});

const client = () => new DirectorClient({ url: fake.url, caCert: fake.caPem, client: USER, clientSecret: PASSWORD }, { pollIntervalMs: 5 });

function capture() {
  let out = '';
  const sink = { write: (s: string) => (out += s) };
  return { reporter: new TaskEventReporter(new TextUi(sink, sink)), text: () => out };
}

test('info over HTTPS with the environment CA, basic auth echoed as the user', async () => {
  const c = client();
  try {
    assert.equal((await c.info()).user, USER);
  } finally {
    c.close();
  }
});

test('a 302 to /tasks/<id> is followed on this director, then polled while events arrive by Range (416 = nothing new)', async () => {
  const started = event({ time: T0, stage: 'Compiling packages', tags: [], total: 1, task: 'nginx/abc', index: 1, state: 'started', progress: 0 });
  const finished = event({ time: T0 + 41, stage: 'Compiling packages', tags: [], total: 1, task: 'nginx/abc', index: 1, state: 'finished', progress: 100 });
  fake.route('POST', '/deployments', {
    id: 7,
    states: ['queued', 'processing', 'processing', 'processing', 'processing', 'done'],
    // the second event arrives cut in the middle of its line
    events: ['', started, finished.slice(0, 20), '', finished.slice(20)],
    result: '',
  });
  const c = client();
  const { reporter, text } = capture();
  try {
    const task = await c.runTask('POST', '/deployments', { body: 'name: nginx\n', contentType: 'text/yaml' }, reporter);
    assert.equal(task.state, 'done');
  } finally {
    c.close();
  }
  assert.match(text(), /^Task 7 \| 12:01:02 \| Compiling packages: nginx\/abc \(00:00:41\)$/m);
  assert.match(text(), /^Task 7 done$/m);
  const post = fake.requests.find((r) => r.method === 'POST' && r.url === '/deployments');
  assert.equal(post?.contentType, 'text/yaml');
  assert.equal(post?.body, 'name: nginx\n');
  const ranges = fake.ranges.map((r) => `${r.range} ${r.status}`);
  assert.ok(ranges.includes(`bytes=0- 416`), ranges.join(', '));
  assert.ok(ranges.some((r) => r.endsWith(' 206') && r !== 'bytes=0- 206'), 'later ranges start at the received offset');
  assert.ok(fake.requests.filter((r) => r.url === '/tasks/7').length >= 5, 'polls the task');
});

test('a task ending in error fails with bosh\'s message', async () => {
  fake.route('DELETE', '/deployments/nginx', {
    id: 8,
    states: ['processing', 'error'],
    events: [event({ time: T0, error: { code: 100, message: 'boom' } })],
  });
  const c = client();
  const { reporter, text } = capture();
  try {
    await assert.rejects(
      c.runTask('DELETE', '/deployments/nginx', {}, reporter),
      (err: unknown) => err instanceof TaskError && err.message === "Expected task '8' to succeed but state is 'error'",
    );
  } finally {
    c.close();
  }
  assert.match(text(), /^Task 8 \| 12:01:02 \| Error: boom$/m);
  assert.match(text(), /^Task 8 error$/m);
});

test('wrong credentials: the director error is reported with status and body', async () => {
  const c = new DirectorClient({ url: fake.url, caCert: fake.caPem, client: USER, clientSecret: 'wrong' });
  try {
    await assert.rejects(c.getJson('/deployments'), /non-successful status code '401' response 'Not authorized: '\/deployments'/);
  } finally {
    c.close();
  }
});

test('a director whose certificate is not signed by the given CA is refused', async () => {
  const c = new DirectorClient({ url: fake.url, client: USER, clientSecret: PASSWORD });
  try {
    await assert.rejects(c.info(), /certificate/i);
  } finally {
    c.close();
  }
});
