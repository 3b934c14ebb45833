// Deploy robustness against a real environment (director process, dummy CPI, agents with real monit):
// instance states kept across deploys, scan_and_fix refused while a deploy holds the lock, `--fix`
// recreating unresponsive and missing VMs, and renaming an instance group with migrated_from.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../../src/common/logging.js';
import { DummyCpi } from '../../../src/cpi/dummy/dummy-cpi.js';
import { DEPLOYMENT, eventually, pidAlive, startDay2Env, type Day2Env } from '../../support/day2-env.js';
import { instanceInfos, type InstanceInfo } from '../../support/day2-queries.js';

let env: Day2Env;
let cpi: DummyCpi;

before(async () => {
  env = await startDay2Env(3);
  cpi = new DummyCpi({ baseDir: env.paths.dummyCpi, agent: { mbus: 'nats://127.0.0.1:1', blobstore: { provider: 'local', options: {} } }, logger: createLogger('robustness-test', undefined, 'silent') });
});
after(async () => {
  await env?.close();
});

const byIndex = (infos: InstanceInfo[], index: number) => infos.find((i) => i.index === index)!;

/** `capstan deploy` of a manifest text; returns the exit status and the whole output. */
function deploy(manifest: string, ...flags: string[]): { ok: boolean; output: string } {
  const file = join(env.work, 'robustness.yml');
  writeFileSync(file, manifest);
  try {
    return { ok: true, output: env.capstan('-n', '-d', DEPLOYMENT, 'deploy', file, ...flags) };
  } catch (err) {
    return { ok: false, output: (err as Error).message };
  }
}

/** The dummy VM's agent process (its pid is in the VM record). */
function agentPid(vmCid: string): number {
  return (JSON.parse(readFileSync(join(env.paths.dummyCpi, 'vms', vmCid, 'vm.json'), 'utf8')) as { pid: number }).pid;
}

/** The manifest with the `ticker` group renamed `tocker`. */
const renamedManifest = () => env.manifest(3).replace('- name: ticker\n', '- name: tocker\n  migrated_from: [{name: ticker, az: z1}]\n');

test('a redeploy keeps what the operator set: stopped instances stay stopped, detached ones stay without VM', async () => {
  const before = await instanceInfos(env);
  env.capstan('-n', '-d', DEPLOYMENT, 'stop', `ticker/${byIndex(before, 0).id}`);
  env.capstan('-n', '-d', DEPLOYMENT, 'stop', '--hard', `ticker/${byIndex(before, 1).id}`);

  const result = deploy(env.manifest(3), '--recreate');
  assert.ok(result.ok, result.output);
  const after = await instanceInfos(env);
  const [stopped, detached, running] = [byIndex(after, 0), byIndex(after, 1), byIndex(after, 2)];
  // as in BOSH, the deploy leaves stopped and detached instances alone; only the started one is recreated
  assert.equal(stopped.state, 'stopped');
  assert.equal(stopped.vm_cid, byIndex(before, 0).vm_cid, 'the stopped instance keeps its VM');
  assert.notEqual(stopped.job_state, 'running', 'its jobs were not started');
  assert.equal(detached.state, 'detached');
  assert.equal(detached.vm_cid, null, 'no VM was created for the detached instance');
  assert.equal(running.state, 'started');
  assert.notEqual(running.vm_cid, byIndex(before, 2).vm_cid, 'the started instance was recreated');
  assert.equal(running.job_state, 'running');

  env.capstan('-n', '-d', DEPLOYMENT, 'start');
  const started = await instanceInfos(env);
  for (const info of started) assert.equal(info.job_state, 'running', `${info.job_name}/${info.index} runs again`);
});

test('scan_and_fix fails at once with the lock error while a deploy holds the deployment lock', async () => {
  const manifest = env.manifest(3).replace('canary_watch_time: 1000-30000', 'canary_watch_time: 3000-30000');
  const deployTask = await env.client.startTask('POST', '/deployments', { body: manifest, contentType: 'text/yaml', query: { recreate: 'true' } });
  await eventually('the deploy to hold the deployment lock', 60_000, async () => {
    const locks = await env.client.getJson<Array<{ type: string; resource: string[]; task_id: string }>>('/locks');
    return locks.find((l) => l.type === 'deployment' && l.resource[0] === DEPLOYMENT && l.task_id === String(deployTask.id));
  });
  const ids = (await env.client.getJson<Array<{ id: string; job: string }>>(`/deployments/${DEPLOYMENT}/instances`)).map((i) => i.id);
  await env.client.request('PUT', '/resurrection', { body: JSON.stringify({ resurrection_paused: false }), contentType: 'application/json' });
  try {
    const fix = await env.task('PUT', `/deployments/${DEPLOYMENT}/scan_and_fix`, { body: JSON.stringify({ jobs: { ticker: ids } }), contentType: 'application/json' });
    assert.equal(fix.state, 'error');
    assert.equal(fix.result, 'Unable to get deployment lock, maybe a deployment is in progress. Try again later.');
    const events = await env.client.taskOutput(fix.id, 'event');
    assert.match(events, /"error":\{"code":\d+,"message":"Unable to get deployment lock, maybe a deployment is in progress\. Try again later\."\}/);
    const deploying = await env.client.getJson<{ state: string }>(`/tasks/${deployTask.id}`);
    assert.equal(deploying.state, 'processing', 'the refusal came while the deploy was still running');
  } finally {
    await env.client.request('PUT', '/resurrection', { body: JSON.stringify({ resurrection_paused: true }), contentType: 'application/json' });
  }
  const done = await eventually('the deploy to finish', 180_000, async () => {
    const task = await env.client.getJson<{ state: string; result: string }>(`/tasks/${deployTask.id}`);
    return ['queued', 'processing'].includes(task.state) ? undefined : task;
  });
  assert.equal(done.state, 'done', done.result);
});

test('deploy --fix recreates an unresponsive agent\'s VM and a missing VM; without --fix the deploy fails', async () => {
  const before = await instanceInfos(env);
  const [silent, killed] = [byIndex(before, 0), byIndex(before, 1)];
  await cpi.simulate({ type: 'agent_unresponsive', vmCid: silent.vm_cid! });
  // the VM's whole process group (agent, monit, job) dies; its record stays: has_vm says false
  const pid = agentPid(killed.vm_cid!);
  process.kill(-pid, 'SIGKILL');
  await eventually('the agent process to die', 10_000, () => (pidAlive(pid) ? undefined : true));

  const failed = deploy(env.manifest(3));
  assert.equal(failed.ok, false, failed.output);
  assert.match(failed.output, /ticker\/[0-9a-f-]+: Timed out sending 'get_state' to instance: 'ticker\/[0-9a-f-]+', agent-id: '[0-9a-f-]+' after \d+ seconds/);
  const bad = new Set([silent, killed].map((i) => `ticker/${i.id}', agent-id: '${i.agent_id}'`));
  assert.ok([...bad].some((text) => failed.output.includes(text)), 'the error names a silent instance and its agent');

  const fixed = deploy(env.manifest(3), '--fix');
  assert.ok(fixed.ok, fixed.output);
  const after = await instanceInfos(env);
  for (const old of [silent, killed]) {
    const now = byIndex(after, old.index);
    assert.equal(now.id, old.id, 'same instance');
    assert.ok(now.vm_cid && now.vm_cid !== old.vm_cid, `instance ${old.index} runs on a new VM`);
    assert.equal(now.job_state, 'running');
  }
  assert.equal(byIndex(after, 2).vm_cid, byIndex(before, 2).vm_cid, 'the healthy instance keeps its VM');
});

test('migrated_from renames an instance group keeping its instances and VMs; invalid migrations fail as in BOSH', async () => {
  const before = await instanceInfos(env);
  const renamed = renamedManifest();

  const unknownAz = deploy(env.manifest(3).replace('- name: ticker\n', '- name: tocker\n  migrated_from: [{name: ticker, az: z9}]\n'));
  assert.equal(unknownAz.ok, false);
  assert.match(unknownAz.output, /Instance group 'ticker' specified for migration to instance group 'tocker' refers to availability zone 'z9'\. Az 'z9' is not in the list of availability zones of instance group 'tocker'\./);

  const stillThere = deploy(renamed.replace('- name: hello\n', `- name: ticker\n  instances: 1\n  azs: [z1]\n  vm_type: small\n  stemcell: default\n  networks: [{name: default}]\n  jobs: [{name: say-hello, release: day2}]\n- name: hello\n`));
  assert.equal(stillThere.ok, false);
  assert.match(stillThere.output, /Failed to migrate instance group 'ticker' to 'tocker'\. A deployment can not migrate an instance group and also specify it\. Please remove instance group 'ticker'\./);

  const result = deploy(renamed);
  assert.ok(result.ok, result.output);
  assert.doesNotMatch(result.output, /Creating missing vms/, 'no VM is created');
  const after = await instanceInfos(env);
  assert.deepEqual(after.map((i) => i.job_name), ['tocker', 'tocker', 'tocker']);
  for (const old of before) {
    const now = after.find((i) => i.id === old.id);
    assert.ok(now, `instance ${old.id} kept its uuid`);
    assert.equal(now.vm_cid, old.vm_cid, 'and its VM');
    assert.equal(now.job_state, 'running');
  }
  const again = deploy(renamed);
  assert.ok(again.ok, again.output);
  assert.doesNotMatch(again.output, /Updating instance/, 'a second deploy of the renamed manifest changes nothing');
});

test('an instance group\'s `state:` in the manifest wins over the stored states', async () => {
  const withState = (state: string) => renamedManifest().replace('  migrated_from: [{name: ticker, az: z1}]\n', `  migrated_from: [{name: ticker, az: z1}]\n  state: ${state}\n`);

  const invalid = deploy(withState('sleeping'));
  assert.equal(invalid.ok, false);
  assert.match(invalid.output, /Invalid state 'sleeping', valid states are: started, stopped, detached/);

  const stop = deploy(withState('stopped'));
  assert.ok(stop.ok, stop.output);
  for (const info of await instanceInfos(env)) {
    assert.equal(info.state, 'stopped');
    assert.notEqual(info.job_state, 'running');
  }
  const plain = deploy(renamedManifest());
  assert.ok(plain.ok, plain.output);
  assert.deepEqual((await instanceInfos(env)).map((i) => i.state), ['stopped', 'stopped', 'stopped'], 'without state: the stored one is kept');

  const start = deploy(withState('started'));
  assert.ok(start.ok, start.output);
  for (const info of await instanceInfos(env)) {
    assert.equal(info.state, 'started');
    assert.equal(info.job_state, 'running');
  }
});
