// Cloud check and resurrection against a real environment (dummy CPI): an agent made unresponsive
// (SIGSTOP) and a VM that vanished are found by a scan, listed as problems with their resolutions,
// and fixed (the VM really recreated, its agent answering); scan_and_fix as the health monitor sends
// it, refused while resurrection is paused.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../../src/common/logging.js';
import { DummyCpi } from '../../../src/cpi/dummy/dummy-cpi.js';
import { DEPLOYMENT, startDay2Env, type Day2Env } from '../../support/day2-env.js';
import { instanceInfos, type InstanceInfo } from '../../support/day2-queries.js';

let env: Day2Env;
let cpi: DummyCpi;

before(async () => {
  env = await startDay2Env(2);
  // the failure switches of the dummy CPI work on its state directory, shared with the director's CPI
  cpi = new DummyCpi({ baseDir: env.paths.dummyCpi, agent: { mbus: 'nats://127.0.0.1:1', blobstore: { provider: 'local', options: {} } }, logger: createLogger('cck-test', undefined, 'silent') });
});
after(async () => {
  await env?.close();
});

interface Problem {
  id: number;
  type: string;
  description: string;
  resolutions: Array<{ name: string; plan: string }>;
  instance_group: string;
  data: Record<string, unknown>;
}

const byIndex = (infos: InstanceInfo[], index: number) => infos.find((i) => i.index === index)!;

async function scan(): Promise<Problem[]> {
  const task = await env.task('POST', `/deployments/${DEPLOYMENT}/scans`, { contentType: 'application/json' });
  assert.equal(task.state, 'done', task.result ?? '');
  assert.equal(task.description, 'scan cloud');
  assert.equal(task.result, 'scan complete');
  return env.client.getJson<Problem[]>(`/deployments/${DEPLOYMENT}/problems`);
}

test('cloud check finds an unresponsive agent and a missing VM and resolves them', async (t) => {
  const initial = await instanceInfos(env);
  const [first, second] = [byIndex(initial, 0), byIndex(initial, 1)];

  await t.test('a healthy deployment has no problems', async () => {
    assert.deepEqual(await scan(), []);
  });

  let problems: Problem[] = [];
  await t.test('scan: unresponsive_agent and missing_vm, with the documented descriptions and resolutions', async () => {
    await cpi.simulate({ type: 'agent_unresponsive', vmCid: first.vm_cid! });
    await cpi.simulate({ type: 'vm_vanished', vmCid: second.vm_cid! });
    problems = await scan();
    assert.equal(problems.length, 2);
    const unresponsive = problems.find((p) => p.type === 'unresponsive_agent')!;
    const missing = problems.find((p) => p.type === 'missing_vm')!;
    assert.equal(typeof unresponsive.id, 'number');
    assert.equal(unresponsive.instance_group, 'ticker');
    assert.equal(unresponsive.description, `VM for 'ticker/${first.id} (0)' with cloud ID '${first.vm_cid}' is not responding.`);
    assert.equal(missing.description, `VM for 'ticker/${second.id} (1)' with cloud ID '${second.vm_cid}' missing.`);
    assert.deepEqual(unresponsive.resolutions.map((r) => r.name), ['ignore', 'reboot_vm', 'recreate_vm_without_wait', 'recreate_vm', 'delete_vm', 'delete_vm_reference']);
    assert.deepEqual(missing.resolutions.map((r) => r.name), ['ignore', 'recreate_vm_without_wait', 'recreate_vm', 'delete_vm_reference']);
    const infos = await instanceInfos(env);
    assert.equal(byIndex(infos, 0).job_state, 'unresponsive agent');
  });

  await t.test('apply: recreate_vm for both; new VMs whose agents answer and run the job', async () => {
    const resolutions = Object.fromEntries(problems.map((p) => [String(p.id), 'recreate_vm']));
    const task = await env.task('PUT', `/deployments/${DEPLOYMENT}/problems`, { body: JSON.stringify({ resolutions }), contentType: 'application/json' });
    assert.equal(task.state, 'done', task.result ?? '');
    assert.equal(task.description, 'apply resolutions');
    assert.equal(task.result, '2 resolved');
    const infos = await instanceInfos(env);
    for (const [index, old] of [[0, first], [1, second]] as const) {
      const info = byIndex(infos, index);
      assert.notEqual(info.vm_cid, old.vm_cid, `instance ${index} got a new VM`);
      assert.equal(info.job_state, 'running');
      assert.equal(existsSync(join(env.paths.dummyCpi, 'vms', old.vm_cid!)), false);
    }
    assert.deepEqual(await env.client.getJson<Problem[]>(`/deployments/${DEPLOYMENT}/problems`), [], 'resolved problems are not open');
  });

  await t.test('delete_vm_reference forgets a missing VM; the instance is left without one', async () => {
    const info = byIndex(await instanceInfos(env), 1);
    await cpi.simulate({ type: 'vm_vanished', vmCid: info.vm_cid! });
    const [problem] = await scan();
    assert.equal(problem.type, 'missing_vm');
    const task = await env.task('PUT', `/deployments/${DEPLOYMENT}/problems`, { body: JSON.stringify({ resolutions: { [problem.id]: 'delete_vm_reference' } }), contentType: 'application/json' });
    assert.equal(task.state, 'done', task.result ?? '');
    assert.equal(byIndex(await instanceInfos(env), 1).vm_cid, null);
  });

  await t.test('scan_and_fix is refused while resurrection is paused, then recreates the named instance', async () => {
    // give instance 1 its VM back with a start, then lose it again
    const start = await env.task('PUT', `/deployments/${DEPLOYMENT}/jobs/ticker/1`, { query: { state: 'started' }, contentType: 'text/yaml', body: '' });
    assert.equal(start.state, 'done', start.result ?? '');
    const lost = byIndex(await instanceInfos(env), 1);
    await cpi.simulate({ type: 'vm_vanished', vmCid: lost.vm_cid! });

    const pause = await env.client.raw('PUT', '/resurrection', { body: JSON.stringify({ resurrection_paused: true }), contentType: 'application/json' });
    assert.equal(pause.status, 200);
    const refused = await env.client.raw('PUT', `/deployments/${DEPLOYMENT}/scan_and_fix`, { body: JSON.stringify({ jobs: { ticker: [lost.id] } }), contentType: 'application/json' });
    assert.equal(refused.status, 400);
    assert.equal(JSON.parse(refused.body.toString()).code, 410004);

    await env.client.request('PUT', '/resurrection', { body: JSON.stringify({ resurrection_paused: false }), contentType: 'application/json' });
    const task = await env.task('PUT', `/deployments/${DEPLOYMENT}/scan_and_fix`, { body: JSON.stringify({ jobs: { ticker: [lost.id] } }), contentType: 'application/json' });
    assert.equal(task.state, 'done', task.result ?? '');
    assert.equal(task.description, 'scan and fix');
    assert.equal(task.result, 'scan and fix complete');
    const fixed = byIndex(await instanceInfos(env), 1);
    assert.ok(fixed.vm_cid && fixed.vm_cid !== lost.vm_cid);
    assert.equal(fixed.job_state, 'running');
  });

  await t.test('scan_and_fix also gives a VM back to a named instance whose VM was deleted', async () => {
    const info = byIndex(await instanceInfos(env), 0);
    const removed = await env.task('DELETE', `/vms/${info.vm_cid}`);
    assert.equal(removed.state, 'done', removed.result ?? '');
    assert.equal(byIndex(await instanceInfos(env), 0).vm_cid, null);
    const task = await env.task('PUT', `/deployments/${DEPLOYMENT}/scan_and_fix`, { body: JSON.stringify({ jobs: { ticker: ['0'] } }), contentType: 'application/json' });
    assert.equal(task.state, 'done', task.result ?? '');
    const back = byIndex(await instanceInfos(env), 0);
    assert.ok(back.vm_cid);
    assert.equal(back.job_state, 'running');
  });

  await t.test('unknown deployment: 404 code 70000 for scans, problems and scan_and_fix', async () => {
    for (const [method, path] of [['POST', '/deployments/nope/scans'], ['GET', '/deployments/nope/problems'], ['PUT', '/deployments/nope/scan_and_fix']] as const) {
      const res = await env.client.raw(method, path, { body: '{"jobs":{}}', contentType: 'application/json' });
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal(JSON.parse(res.body.toString()).code, 70000);
    }
  });
});
