// Day-2 instance state changes against a real environment (dummy CPI: agents as local processes
// with the real monit, real nats-server with mutual TLS, the director process): stop, start,
// restart, recreate, stop --hard, ignore, delete-vm, the events they leave, and the error codes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEPLOYMENT, pidAlive, startDay2Env, type Day2Env } from '../../support/day2-env.js';
import { instanceInfos, jobPid, type InstanceInfo } from '../../support/day2-queries.js';

let env: Day2Env;

before(async () => {
  env = await startDay2Env(2);
});
after(async () => {
  await env?.close();
});

const byIndex = (infos: InstanceInfo[], index: number) => infos.find((i) => i.index === index && i.job_name === 'ticker')!;

test('stop, start, restart, recreate, stop --hard, ignore and delete-vm change the instances for real', async (t) => {
  const initial = await instanceInfos(env);
  assert.equal(initial.length, 2);
  for (const info of initial) assert.equal(info.job_state, 'running');
  const first = byIndex(initial, 0);
  const second = byIndex(initial, 1);

  await t.test('stop one instance: its job process ends, the other keeps running', async () => {
    const pid = jobPid(env, first.id);
    const task = await env.task('PUT', `/deployments/${DEPLOYMENT}/jobs/ticker/0`, { query: { state: 'stopped' }, contentType: 'text/yaml', body: '' });
    assert.equal(task.state, 'done', task.result ?? '');
    assert.equal(task.description, 'create deployment');
    assert.equal(pidAlive(pid), false, 'the job process is gone');
    const infos = await instanceInfos(env);
    assert.equal(byIndex(infos, 0).state, 'stopped');
    assert.equal(byIndex(infos, 0).job_state, 'stopped');
    assert.equal(byIndex(infos, 1).job_state, 'running');
    assert.ok(pidAlive(jobPid(env, second.id)));
  });

  await t.test('start it again with the per-instance action form', async () => {
    const task = await env.task('POST', `/deployments/${DEPLOYMENT}/instance_groups/ticker/${first.id}/actions/start`, { contentType: 'text/yaml', body: '' });
    assert.equal(task.state, 'done', task.result ?? '');
    assert.equal(task.description, 'start instance');
    const infos = await instanceInfos(env);
    assert.equal(byIndex(infos, 0).state, 'started');
    assert.equal(byIndex(infos, 0).job_state, 'running');
    assert.ok(pidAlive(jobPid(env, first.id)));
  });

  await t.test('restart the whole group: every job process is replaced', async () => {
    const before = [jobPid(env, first.id), jobPid(env, second.id)];
    const task = await env.task('PUT', `/deployments/${DEPLOYMENT}/jobs/ticker`, { query: { state: 'restart' }, contentType: 'text/yaml', body: '' });
    assert.equal(task.state, 'done', task.result ?? '');
    const after = [jobPid(env, first.id), jobPid(env, second.id)];
    for (let i = 0; i < 2; i++) {
      assert.notEqual(after[i], before[i]);
      assert.equal(pidAlive(before[i]), false);
      assert.ok(pidAlive(after[i]));
    }
  });

  await t.test('recreate one instance by uuid: a new VM whose agent answers, the job running on it', async () => {
    const task = await env.task('PUT', `/deployments/${DEPLOYMENT}/jobs/ticker/${second.id}`, { query: { state: 'recreate' }, contentType: 'text/yaml', body: '' });
    assert.equal(task.state, 'done', task.result ?? '');
    const infos = await instanceInfos(env);
    const recreated = byIndex(infos, 1);
    assert.notEqual(recreated.vm_cid, second.vm_cid);
    assert.notEqual(recreated.agent_id, second.agent_id);
    assert.equal(recreated.job_state, 'running', 'the new agent answers get_state');
    assert.deepEqual(recreated.ips, second.ips, 'the instance keeps its IP');
    assert.equal(existsSync(join(env.paths.dummyCpi, 'vms', second.vm_cid!)), false, 'the old VM is gone');
  });

  await t.test('stop --hard deletes the VM and keeps the instance detached; start brings a VM back', async () => {
    const stop = await env.task('POST', `/deployments/${DEPLOYMENT}/instance_groups/ticker/0/actions/stop`, { query: { hard: true }, contentType: 'text/yaml', body: '' });
    assert.equal(stop.state, 'done', stop.result ?? '');
    let infos = await instanceInfos(env);
    assert.equal(byIndex(infos, 0).state, 'detached');
    assert.equal(byIndex(infos, 0).vm_cid, null);
    const vms = await env.client.getJson<Array<{ index: number }>>(`/deployments/${DEPLOYMENT}/vms`);
    assert.deepEqual(vms.map((v) => v.index), [1]);

    const start = await env.task('PUT', `/deployments/${DEPLOYMENT}/jobs/ticker/0`, { query: { state: 'started' }, contentType: 'text/yaml', body: '' });
    assert.equal(start.state, 'done', start.result ?? '');
    infos = await instanceInfos(env);
    assert.equal(byIndex(infos, 0).state, 'started');
    assert.equal(byIndex(infos, 0).job_state, 'running');
    assert.ok(byIndex(infos, 0).vm_cid);
  });

  await t.test('an ignored instance is left alone by group-wide changes', async () => {
    const ignore = await env.client.request('PUT', `/deployments/${DEPLOYMENT}/instance_groups/ticker/1/ignore`, { body: JSON.stringify({ ignore: true }), contentType: 'application/json' });
    assert.equal(ignore.status, 200);
    assert.equal(byIndex(await instanceInfos(env), 1).ignore, true);
    const pids = [jobPid(env, first.id), jobPid(env, second.id)];
    const task = await env.task('PUT', `/deployments/${DEPLOYMENT}/jobs/*`, { query: { state: 'restart' }, contentType: 'text/yaml', body: '' });
    assert.equal(task.state, 'done', task.result ?? '');
    assert.notEqual(jobPid(env, first.id), pids[0], 'the other instance restarted');
    assert.equal(jobPid(env, second.id), pids[1], 'the ignored one did not');
    await env.client.request('PUT', `/deployments/${DEPLOYMENT}/instance_groups/ticker/1/ignore`, { body: JSON.stringify({ ignore: false }), contentType: 'application/json' });
    assert.equal(byIndex(await instanceInfos(env), 1).ignore, false);
  });

  await t.test('delete-vm removes the VM from the cloud and from the instance', async () => {
    const cid = byIndex(await instanceInfos(env), 1).vm_cid!;
    const task = await env.task('DELETE', `/vms/${cid}`);
    assert.equal(task.state, 'done', task.result ?? '');
    assert.equal(task.description, `delete vm ${cid}`);
    assert.equal(existsSync(join(env.paths.dummyCpi, 'vms', cid)), false);
    const info = byIndex(await instanceInfos(env), 1);
    assert.equal(info.vm_cid, null);
  });

  await t.test('the changes are in the event log, ids as strings, pageable with before_id', async () => {
    const events = await env.client.getJson<Array<Record<string, unknown>>>('/events', { deployment: DEPLOYMENT });
    assert.ok(events.length >= 6);
    for (const e of events) {
      assert.equal(typeof e.id, 'string');
      assert.equal(typeof e.timestamp, 'number');
      if ('parent_id' in e) assert.equal(typeof e.parent_id, 'string');
      if ('task' in e) assert.equal(typeof e.task, 'string');
    }
    assert.ok(events.some((e) => e.action === 'recreate' && e.object_type === 'instance' && e.object_name === `ticker/${second.id}`));
    assert.ok(events.some((e) => e.action === 'delete' && e.object_type === 'vm'));
    const ids = events.map((e) => Number(e.id));
    assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first');
    const page = await env.client.getJson<Array<{ id: string }>>('/events', { before_id: String(ids[2]), deployment: DEPLOYMENT });
    assert.equal(page[0].id, String(ids[3]));
    const one = await env.client.getJson<{ id: string }>(`/events/${ids[0]}`);
    assert.equal(one.id, String(ids[0]));
    const byAction = await env.client.getJson<Array<{ action: string }>>('/events', { action: 'recreate' });
    assert.ok(byAction.length >= 1 && byAction.every((e) => e.action === 'recreate'));
  });
});

test('unknown deployment, instance and bad ids give the documented codes', async () => {
  const put = (path: string) => env.client.raw('PUT', path, { query: { state: 'stopped' }, contentType: 'text/yaml', body: '' });
  const check = async (res: Awaited<ReturnType<typeof put>>, status: number, code: number) => {
    assert.equal(res.status, status, res.body.toString());
    assert.equal(JSON.parse(res.body.toString()).code, code);
  };
  await check(await put('/deployments/nope/jobs/ticker/0'), 404, 70000);
  await check(await put(`/deployments/${DEPLOYMENT}/jobs/nope/0`), 404, 70001);
  await check(await put(`/deployments/${DEPLOYMENT}/jobs/ticker/7`), 404, 70001);
  await check(await put(`/deployments/${DEPLOYMENT}/jobs/ticker/not-an-id`), 400, 70002);
  await check(await env.client.raw('POST', `/deployments/${DEPLOYMENT}/instance_groups/ticker/9/actions/start`), 404, 70001);
  const gone = await env.client.raw('PUT', `/deployments/${DEPLOYMENT}/jobs/ticker/0/resurrection`);
  assert.equal(gone.status, 410);
  assert.equal(readFileSync(env.paths.directorLog, 'utf8').includes(JSON.parse(readFileSync(env.paths.envFile, 'utf8')).client_secret), false);
});

test('dry run changes nothing; a manifest body with a state change is refused', async () => {
  const pid = jobPid(env, (await instanceInfos(env))[0].id);
  const task = await env.task('PUT', `/deployments/${DEPLOYMENT}/jobs/ticker/0`, { query: { state: 'stopped', dry_run: true }, contentType: 'text/yaml', body: '' });
  assert.equal(task.state, 'done', task.result ?? '');
  assert.equal(task.description, 'create deployment (dry run)');
  assert.ok(pidAlive(pid));
  const refused = await env.client.raw('PUT', `/deployments/${DEPLOYMENT}/jobs/ticker/0`, { query: { state: 'stopped' }, contentType: 'text/yaml', body: 'name: day2\n' });
  assert.equal(refused.status, 400);
});
