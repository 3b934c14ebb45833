// Tasks through the API: the worker, the deployment lock, cancellation, failures, and a director
// that dies mid-task (its task becomes error, its lock is released).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { TaskJob } from '../../src/director/context.js';
import { makeConfig, makeTempDir, startTestDirector, taskEvents, taskIdFrom, httpsCall, type TestDirector } from './helpers.js';

const yamlHeaders = { 'content-type': 'text/yaml' };

/** A deploy job that runs until it is cancelled, checkpointing as real jobs do. */
function cancellableDeploy(started: (id: number) => void): TaskJob {
  return async (_director, task, payload) => {
    started(task.taskId);
    await task.events.beginStage('Preparing deployment', 1).track('Preparing deployment', async () => {
      for (;;) {
        await task.checkpoint();
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    return `/deployments/${payload.deployment_name}`;
  };
}

async function untilState(director: TestDirector, id: number, state: string): Promise<void> {
  while ((await director.request('GET', `/tasks/${id}`)).json().state !== state) await new Promise((r) => setTimeout(r, 20));
}

test('deploy tasks of one deployment run one at a time under its lock; cancelling frees it', async (t) => {
  const temp = makeTempDir('director-lifecycle');
  const started: number[] = [];
  const director = await startTestDirector(temp.dir, { jobs: { update_deployment: cancellableDeploy((id) => started.push(id)) } });
  t.after(async () => {
    await director.close();
    temp.remove();
  });

  const first = taskIdFrom(await director.request('POST', '/deployments', { headers: yamlHeaders, body: 'name: web\n' }));
  await untilState(director, first, 'processing');
  const locks = (await director.request('GET', '/locks')).json();
  assert.deepEqual(locks.map((l: any) => [l.type, l.resource, l.task_id]), [['deployment', ['web'], String(first)]]);
  assert.match(locks[0].timeout, /^\d+\.\d{6}$/);

  const second = taskIdFrom(await director.request('POST', '/deployments', { headers: yamlHeaders, body: 'name: web\n' }));
  const other = taskIdFrom(await director.request('POST', '/deployments', { headers: yamlHeaders, body: 'name: api\n' }));
  await untilState(director, other, 'processing'); // another deployment is not held up
  assert.equal((await director.request('GET', `/tasks/${second}`)).json().state, 'queued');
  const deployments = (await director.request('GET', '/deployments')).json();
  assert.deepEqual(deployments.map((d: any) => [d.name, d.locked]), [['api', true], ['web', true]]);

  assert.equal((await director.request('DELETE', `/task/${first}`)).status, 204);
  const cancelled = await director.waitForTask(first);
  assert.equal(cancelled.state, 'cancelled');
  assert.equal(cancelled.result, 'task cancelled');
  assert.equal(typeof cancelled.timestamp, 'number');

  await untilState(director, second, 'processing'); // the lock passed on
  const processing = (await director.request('GET', '/tasks?state=processing,cancelling,queued')).json();
  assert.deepEqual(processing.map((task: any) => task.id), [other, second]);
  assert.equal(processing[0].timestamp, null);
  for (const id of [second, other]) await director.request('DELETE', `/task/${id}`);
  await director.waitForTask(second);
  await director.waitForTask(other);
  assert.deepEqual((await director.request('GET', '/locks')).json(), []);
  assert.deepEqual(started, [first, other, second]);

  const notCancellable = await director.request('DELETE', `/task/${first}`);
  assert.equal(notCancellable.status, 400);
});

test('a failing task ends in error with a truncated result, an error event, and its lock released', async (t) => {
  const temp = makeTempDir('director-failing');
  const message = `Instance group 'web' is broken: ${'very '.repeat(40)}broken`;
  const director = await startTestDirector(temp.dir, {
    jobs: {
      update_deployment: async (_director, task) => {
        task.debug.info('about to fail');
        await task.events.beginStage('Preparing deployment', 1).track('Preparing deployment', async () => {
          throw new Error(message);
        });
        return 'unreachable';
      },
    },
  });
  t.after(async () => {
    await director.close();
    temp.remove();
  });

  const res = await director.request('POST', '/deployments', { headers: { ...yamlHeaders, 'x-bosh-context-id': 'ctx-1' }, body: 'name: web\n' });
  const id = taskIdFrom(res);
  const task = await director.waitForTask(id);
  assert.equal(task.state, 'error');
  assert.ok(task.result!.endsWith('...') && task.result!.length <= 131, task.result!);
  assert.equal(task.user, 'admin');
  assert.equal(task.deployment, 'web');
  assert.equal(task.context_id, 'ctx-1');
  assert.equal(task.description, 'create deployment');

  const events = await taskEvents(director, id);
  assert.deepEqual(events.map((e) => e.state ?? 'error'), ['started', 'failed', 'error']);
  assert.equal(events[1].data.error, message);
  assert.deepEqual(events[2].error, { code: 100, message });
  assert.deepEqual((await director.request('GET', '/locks')).json(), []);

  const debug = await director.request('GET', `/tasks/${id}/output?type=debug`);
  assert.match(debug.text, /Enqueuing task/);
  assert.match(debug.text, /about to fail/);

  const listed = (await director.request('GET', '/tasks?limit=5&deployment=web')).json();
  assert.deepEqual(listed.map((x: any) => x.id), [id]);
});

test('a task left processing by a killed director becomes error at the next start, its lock released', async (t) => {
  const temp = makeTempDir('director-crash');
  const config = makeConfig(temp.dir);
  const configPath = join(temp.dir, 'config.json');
  writeFileSync(configPath, JSON.stringify(config));
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'blocking-director.ts'), configPath], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let restarted: TestDirector | undefined;
  t.after(async () => {
    child.kill('SIGKILL');
    await restarted?.close();
    temp.remove();
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`blocking director exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /^PORT (\d+)$/.exec(line);
      if (match) resolve(Number(match[1]));
    });
  });

  const id = taskIdFrom(await httpsCall(port, 'POST', '/deployments', { headers: yamlHeaders, body: 'name: web\n' }));
  while ((await httpsCall(port, 'GET', `/tasks/${id}`)).json().state !== 'processing') await new Promise((r) => setTimeout(r, 20));
  assert.equal((await httpsCall(port, 'GET', '/locks')).json().length, 1);

  child.removeAllListeners('exit');
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;

  restarted = await startTestDirector(temp.dir, {
    config,
    jobs: { update_deployment: async (_d, _task, payload) => `/deployments/${payload.deployment_name}` },
  });
  const task = (await restarted.request('GET', `/tasks/${id}`)).json();
  assert.equal(task.state, 'error');
  assert.match(task.result, /interrupted/);
  assert.equal(typeof task.timestamp, 'number');
  assert.deepEqual((await restarted.request('GET', '/locks')).json(), []);
  const events = await taskEvents(restarted, id);
  assert.match(events.at(-1)!.error.message, /interrupted/);

  // The deployment is usable again: a new deploy takes the lock and finishes.
  const next = taskIdFrom(await restarted.request('POST', '/deployments', { headers: yamlHeaders, body: 'name: web\n' }));
  const done = await restarted.waitForTask(next);
  assert.equal(done.state, 'done');
  assert.equal(done.result, '/deployments/web');
});
