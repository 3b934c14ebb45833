// Logs, ssh, errands listing, task cancelling, in-use protection, orphan listings and clean-up
// against a real environment (dummy CPI), plus the contract check of the JSON shapes of these
// routes against director-api.md §2.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { list as listTar } from 'tar';
import { DEPLOYMENT, startDay2Env, writeStemcell, type Day2Env } from '../../support/day2-env.js';
import { instanceInfos } from '../../support/day2-queries.js';
import { assertShape, TASK_SHAPE } from '../../support/day2-shapes.js';

let env: Day2Env;

before(async () => {
  env = await startDay2Env(2);
});
after(async () => {
  await env?.close();
});

async function tarEntries(blobId: string): Promise<string[]> {
  const res = await env.client.request('GET', `/resources/${blobId}`);
  assert.equal(res.headers['content-type'], 'application/x-gzip');
  const file = join(env.work, `${blobId}.tgz`);
  writeFileSync(file, res.body);
  const entries: string[] = [];
  await listTar({ file, onReadEntry: (e) => entries.push(e.path) });
  return entries;
}

test('fetch logs: one instance gives its job log tarball, all instances one tarball of tarballs', async () => {
  const one = await env.task('GET', `/deployments/${DEPLOYMENT}/jobs/ticker/0/logs`, { query: { type: 'job' } });
  assert.equal(one.state, 'done', one.result ?? '');
  assert.equal(one.description, 'fetch logs');
  assertShape(one, TASK_SHAPE, 'fetch logs task');
  const entries = await tarEntries(one.result!);
  assert.ok(entries.some((e) => /(^|\/)ticker\/ticker\.stdout\.log$/.test(e)), `job log in ${entries.join(', ')}`);

  const all = await env.task('GET', `/deployments/${DEPLOYMENT}/jobs/*/*/logs`, { query: { type: 'job' } });
  assert.equal(all.state, 'done', all.result ?? '');
  const packed = await tarEntries(all.result!);
  assert.equal(packed.filter((e) => e.endsWith('.tgz')).length, 2, packed.join(', '));

  const missing = await env.client.raw('GET', '/resources/no-such-blob');
  assert.equal(missing.status, 404);
});

test('ssh setup creates the user on every targeted VM and answers host keys; cleanup removes it', async () => {
  const infos = await instanceInfos(env);
  const body = {
    deployment_name: DEPLOYMENT, target: { job: 'ticker', indexes: [], ids: [] }, command: 'setup',
    params: { user: 'bosh_day2test', public_key: 'ssh-rsa AAAAday2test capstan' },
  };
  const task = await env.task('POST', `/deployments/${DEPLOYMENT}/ssh`, { body: JSON.stringify(body), contentType: 'application/json' });
  assert.equal(task.state, 'done', task.result ?? '');
  assert.match(task.description, /^ssh: setup:/);
  const result = JSON.parse(await env.client.taskOutput(task.id, 'result')) as Array<Record<string, unknown>>;
  assert.equal(result.length, 2);
  for (const entry of result) {
    assertShape(entry, { command: 'string', status: 'string', ip: 'string', host_public_key: 'string', id: 'string', index: 'number', job: 'string' }, 'ssh result');
    assert.equal(entry.status, 'success');
    const info = infos.find((i) => i.id === entry.id)!;
    assert.deepEqual([entry.ip], info.ips);
    const keys = join(env.paths.dummyCpi, 'vms', info.vm_cid!, 'vcap', 'bosh_ssh', 'bosh_day2test', '.ssh', 'authorized_keys');
    assert.equal(readFileSync(keys, 'utf8'), 'ssh-rsa AAAAday2test capstan');
  }

  const one = await env.task('POST', `/deployments/${DEPLOYMENT}/ssh`, {
    body: JSON.stringify({ ...body, target: { job: 'ticker', indexes: [infos[1].id], ids: [infos[1].id] } }), contentType: 'application/json',
  });
  assert.equal(JSON.parse(await env.client.taskOutput(one.id, 'result')).length, 1);

  const cleanup = await env.task('POST', `/deployments/${DEPLOYMENT}/ssh`, {
    body: JSON.stringify({ ...body, command: 'cleanup', params: { user_regex: '^bosh_day2test' } }), contentType: 'application/json',
  });
  assert.equal(cleanup.state, 'done', cleanup.result ?? '');
  for (const info of infos) assert.equal(existsSync(join(env.paths.dummyCpi, 'vms', info.vm_cid!, 'vcap', 'bosh_ssh', 'bosh_day2test')), false);
});

test('errands: the errand instance group and the jobs with bin/run', async () => {
  const errands = await env.client.getJson<Array<{ name: string }>>(`/deployments/${DEPLOYMENT}/errands`);
  assert.deepEqual(errands.map((e) => e.name).sort(), ['hello', 'say-hello']);
  const unknown = await env.client.raw('GET', '/deployments/nope/errands');
  assert.equal(unknown.status, 404);
  assert.equal(JSON.parse(unknown.body.toString()).code, 70000);
});

test('POST /tasks/cancel cancels the queued task waiting for the deployment lock, not the running one', async () => {
  const running = await env.client.startTask('PUT', `/deployments/${DEPLOYMENT}/jobs/ticker`, { query: { state: 'restart' }, contentType: 'text/yaml', body: '' });
  const queued = await env.client.startTask('PUT', `/deployments/${DEPLOYMENT}/jobs/ticker`, { query: { state: 'restart' }, contentType: 'text/yaml', body: '' });
  const res = await env.client.request('POST', '/tasks/cancel', { body: JSON.stringify({ deployment: DEPLOYMENT, types: ['update_deployment'] }), contentType: 'application/json' });
  assert.equal(res.status, 204);
  const silent = { taskStarted() {}, taskOutputChunk() {}, taskFinished() {} };
  assert.equal((await env.client.waitForTask(queued, silent)).state, 'cancelled');
  assert.equal((await env.client.waitForTask(running, silent)).state, 'done');
});

test('a deployed release or stemcell cannot be deleted, even with force; unknown ones are 404', async () => {
  for (const force of [false, true]) {
    const release = await env.task('DELETE', '/releases/day2', { query: { force } });
    assert.equal(release.state, 'error');
    assert.match(release.result ?? '', /still in use/);
    const stemcell = await env.task('DELETE', '/stemcells/capstan-dummy/1', { query: { force } });
    assert.equal(stemcell.state, 'error');
    assert.match(stemcell.result ?? '', /still in use/);
  }
  assert.match(env.capstan('releases'), /day2/);
  for (const [method, path, code] of [
    ['DELETE', '/releases/nope', 30005], ['DELETE', '/stemcells/nope/1', 50003], ['GET', '/tasks/999999', 10000], ['GET', '/deployments/nope', 70000],
  ] as const) {
    const res = await env.client.raw(method, path);
    assert.equal(res.status, 404, `${method} ${path}`);
    assert.equal(JSON.parse(res.body.toString()).code, code, `${method} ${path}`);
  }
});

test('orphan listings are empty; clean-up deletes an unused stemcell, its dry run lists it first', async () => {
  assert.deepEqual(await env.client.getJson('/disks'), []);
  assert.deepEqual(await env.client.getJson('/orphaned_vms'), []);
  assert.deepEqual(await env.client.getJson('/networks', { orphaned: true }), []);

  env.capstan('upload-stemcell', await writeStemcell(env.work, '2'));
  const keep = await env.client.getJson<Record<string, unknown[]>>('/cleanup/dryrun');
  assert.deepEqual(keep.stemcells, [], 'the two newest unused are kept without remove_all');
  const dry = await env.client.getJson<{ stemcells: Array<Record<string, unknown>>; releases: unknown[] }>('/cleanup/dryrun', { remove_all: true });
  assert.deepEqual(dry.stemcells.map((s) => s.version), ['2']);
  assertShape(dry, { releases: 'array', stemcells: 'array', compiled_packages: 'array', orphaned_disks: 'array', orphaned_vms: 'array', exported_releases: 'array', dns_blobs: 'array' }, 'cleanup dry run');

  const task = await env.task('POST', '/cleanup', { body: JSON.stringify({ config: { remove_all: true } }), contentType: 'application/json' });
  assert.equal(task.state, 'done', task.result ?? '');
  assert.match(task.result ?? '', /^Deleted 0 release\(s\), 1 stemcell\(s\)/);
  const stemcells = await env.client.getJson<Array<{ version: string }>>('/stemcells');
  assert.deepEqual(stemcells.map((s) => s.version), ['1']);
});

test('contract: the JSON shapes of the day-2 routes match director-api.md §2', async () => {
  const events = await env.client.getJson<unknown[]>('/events');
  assert.ok(events.length > 0);
  for (const e of events) assertShape(e, { id: 'string', timestamp: 'number', user: 'string', action: 'string', object_type: 'string', context: 'object', '?parent_id': 'string', '?task': 'string', '?deployment': 'string', '?instance': 'string', '?object_name': 'string', '?error': 'string' }, 'event');
  assertShape(await env.client.getJson(`/events/${(events[0] as { id: string }).id}`), { id: 'string' }, 'event');

  const scan = await env.task('POST', `/deployments/${DEPLOYMENT}/scans`, { contentType: 'application/json' });
  assertShape(scan, TASK_SHAPE, 'scan task');
  assert.deepEqual(await env.client.getJson(`/deployments/${DEPLOYMENT}/problems`), []);

  const tasks = await env.client.getJson<unknown[]>('/tasks', { verbose: 2, limit: 50 });
  for (const t of tasks) assertShape(t, TASK_SHAPE, 'task');
  const descriptions = (tasks as Array<{ description: string }>).map((t) => t.description);
  for (const wanted of ['fetch logs', 'scan cloud', 'create deployment']) assert.ok(descriptions.includes(wanted), `tasks list ${wanted}`);

  const locks = await env.client.getJson<unknown[]>('/locks');
  for (const l of locks) assertShape(l, { type: 'string', resource: 'array', timeout: 'string', task_id: 'string' }, 'lock');
  for (const e of await env.client.getJson<unknown[]>(`/deployments/${DEPLOYMENT}/errands`)) assertShape(e, { name: 'string' }, 'errand');

  // §2.9 config diffs: `from.id` a string, diff lines `[text, "added"|"removed"|null]`
  const diffLines = (diff: unknown, what: string) => {
    for (const line of diff as unknown[]) {
      assert.ok(Array.isArray(line) && line.length === 2 && typeof line[0] === 'string' && [null, 'added', 'removed'].includes(line[1]), `${what}: ${JSON.stringify(line)}`);
    }
  };
  const configDiff = await env.client.sendJson<{ from: { id: string }; diff: unknown[] }>('POST', '/configs/diff', { type: 'cloud', name: 'default', content: 'azs: [{name: z9}]\n' });
  assertShape(configDiff, { from: 'object', diff: 'array' }, 'config diff');
  assertShape(configDiff!.from, { id: 'string' }, 'config diff from');
  assert.ok(configDiff!.diff.length > 0);
  diffLines(configDiff!.diff, 'config diff line');
  for (const path of ['/cloud_configs/diff', '/runtime_configs/diff', '/cpi_configs/diff']) {
    const res = await env.client.request('POST', path, { body: 'azs: [{name: z9}]\n', contentType: 'text/yaml' });
    const body = JSON.parse(res.body.toString('utf8')) as { diff: unknown[] };
    assertShape(body, { diff: 'array', '?error': 'string' }, path);
    diffLines(body.diff, path);
  }
});
