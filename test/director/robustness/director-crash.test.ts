// kill -9 of the real director process in the middle of a deploy (while it updates instances, dummy
// CPI): once the director is started again, the interrupted task is `error`, its lock is gone, and
// deploying the same manifest again brings every instance up.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { up } from '../../../src/environment/up.js';
import { DEPLOYMENT, eventually, pidAlive, startDay2Env, type Day2Env } from '../../support/day2-env.js';
import { instanceInfos } from '../../support/day2-queries.js';

let env: Day2Env;

before(async () => {
  env = await startDay2Env(2);
});
after(async () => {
  await env?.close();
});

interface TaskView {
  id: number;
  state: string;
  result: string | null;
}

test('a director killed mid-deploy leaves the task in error, no lock, and the next deploy working', async () => {
  // scaling 2 -> 3 creates a VM and then updates it; a long canary watch keeps the update going
  const manifest = env.manifest(3).replace('canary_watch_time: 1000-30000', 'canary_watch_time: 5000-30000');
  const task = await env.client.startTask('POST', '/deployments', { body: manifest, contentType: 'text/yaml' });
  await eventually('the deploy to reach the updating stage', 120_000, async () => {
    const events = await env.client.taskOutput(task.id, 'event');
    return events.split('\n').some((line) => line.includes('"stage":"Updating instance"') && line.includes('"state":"started"')) ? true : undefined;
  });

  const pid = Number(readFileSync(env.paths.directorPid, 'utf8').trim());
  process.kill(pid, 'SIGKILL');
  await eventually('the director process to die', 10_000, () => (pidAlive(pid) ? undefined : true));

  const restarted = await up({ home: env.home, cpi: 'dummy' });
  assert.ok(restarted.started.includes('director'), `director started again: ${restarted.started.join(', ')}`);

  const interrupted = await env.client.getJson<TaskView>(`/tasks/${task.id}`);
  assert.equal(interrupted.state, 'error');
  assert.match(interrupted.result ?? '', /interrupted/);
  const events = await env.client.taskOutput(task.id, 'event');
  assert.match(events.trim().split('\n').at(-1)!, /"error":\{"code":\d+,"message":"[^"]*interrupted/);
  assert.deepEqual(await env.client.getJson<unknown[]>('/locks'), []);

  const file = join(env.work, 'crash.yml');
  writeFileSync(file, manifest);
  env.capstan('-n', '-d', DEPLOYMENT, 'deploy', file);
  const infos = await instanceInfos(env);
  assert.equal(infos.length, 3);
  for (const info of infos) {
    assert.ok(info.vm_cid, `ticker/${info.index} has a VM`);
    assert.equal(info.job_state, 'running', `ticker/${info.index} runs`);
  }
});
