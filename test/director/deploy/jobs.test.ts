// The deploy task jobs end to end over the seams: real SQLite, real Ruby rendering the example
// release's templates, a directory blobstore, and in-memory agents and CPI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, cp, copyFile, writeFile, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create as createTar, extract as extractTar } from 'tar';
import { taskJobs } from '../../../src/director/deploy/jobs.js';
import type { ApplySpec } from '../../../src/common/protocol.js';
import { sharedTemplateWorker } from '../../../src/director/templates/ruby-worker.js';
import { testDirector, type TestDirector } from './support.js';
import { FakeAgents, RecordingEventLog, fakeTask } from './fakes.js';

const EXAMPLE = new URL('../../../examples/nginx/', import.meta.url).pathname;
let director: TestDirector;
let work: string;

async function jobBlob(name: string): Promise<string> {
  const dir = join(work, 'job-' + name);
  await mkdir(dir, { recursive: true });
  await cp(join(EXAMPLE, 'jobs', name, 'templates'), join(dir, 'templates'), { recursive: true });
  await copyFile(join(EXAMPLE, 'jobs', name, 'monit'), join(dir, 'monit'));
  await copyFile(join(EXAMPLE, 'jobs', name, 'spec'), join(dir, 'job.MF'));
  const tgz = join(work, `${name}.tgz`);
  await createTar({ gzip: true, file: tgz, cwd: dir }, ['job.MF', 'monit', 'templates']);
  return director.blobstore.put(tgz);
}

async function seedRelease(): Promise<void> {
  const db = director.db;
  const release = await db.insertInto('releases').values({ name: 'nginx' }).returning('id').executeTakeFirstOrThrow();
  const version = await db.insertInto('release_versions').values({ release_id: release.id, version: '0+dev.1', commit_hash: 'abc', uncommitted_changes: 0, update_completed: 1 }).returning('id').executeTakeFirstOrThrow();
  const src = join(work, 'src.tgz');
  await writeFile(src, 'source');
  const packages = [
    { name: 'libfoo', deps: [] as string[] },
    { name: 'nginx', deps: ['libfoo'] },
  ];
  for (const p of packages) {
    const blob = await director.blobstore.put(src);
    const row = await db.insertInto('packages').values({ release_id: release.id, name: p.name, version: `fp-${p.name}`, fingerprint: `fp-${p.name}`, blobstore_id: blob, sha1: 'srcsha1', dependency_set_json: JSON.stringify(p.deps) }).returning('id').executeTakeFirstOrThrow();
    await db.insertInto('packages_release_versions').values({ package_id: row.id, release_version_id: version.id }).execute();
  }
  for (const name of ['nginx', 'smoke-test']) {
    const spec = (await import('yaml')).parse(await readFile(join(EXAMPLE, 'jobs', name, 'spec'), 'utf8'));
    const row = await db.insertInto('templates').values({ release_id: release.id, name, version: `jv-${name}`, fingerprint: `jv-${name}`, blobstore_id: await jobBlob(name), sha1: `jsha-${name}`, package_names_json: JSON.stringify(spec.packages ?? []), spec_json: JSON.stringify(spec) }).returning('id').executeTakeFirstOrThrow();
    await db.insertInto('release_versions_templates').values({ template_id: row.id, release_version_id: version.id }).execute();
  }
  await db.insertInto('stemcells').values({ name: 'capstan-debian-bookworm', version: '1', operating_system: 'debian-bookworm', cid: 'stemcell-cid', sha1: 'x', cpi: '', api_version: 2 }).execute();
  await db.insertInto('configs').values({ type: 'cloud', name: 'default', content: await readFile(join(EXAMPLE, 'cloud-config.yml'), 'utf8'), created_at: new Date().toISOString(), deleted: 0 }).execute();
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'capstan-jobs-test-'));
  let compiled = 0;
  const agents = new FakeAgents({
    compile_package: () => ({ result: { blobstore_id: `compiled-${++compiled}`, sha1: `csha-${compiled}` } }),
    run_errand: () => ({ exit_code: 0, stdout: 'smoke-test: PASSED\n', stderr: '' }),
    fetch_logs: () => ({ blobstore_id: 'logs-blob', sha1: 'x' }),
    get_state: (agentId) => ({ agent_id: agentId, job_state: 'running', vm: { name: 'vm' }, networks: { default: { ip: '10.245.0.10' } }, processes: [{ name: 'nginx', state: 'running' }] }),
  });
  director = await testDirector(agents);
  await seedRelease();
});
after(async () => {
  await director.cleanup();
  await rm(work, { recursive: true, force: true });
  await sharedTemplateWorker().close();
});

const manifestText = () => readFile(join(EXAMPLE, 'manifest.yml'), 'utf8');
const stepLines = (events: RecordingEventLog) => events.lines.filter((l) => l.endsWith('| started')).map((l) => l.replace(/ \| started$/, '').replace(/ \| /, ': ').replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<uuid>'));

test('update_deployment compiles, creates the VM, applies and starts it, with the BOSH event names', async () => {
  const events = new RecordingEventLog();
  const result = await taskJobs.update_deployment(director, fakeTask(events), { deployment_name: 'nginx', manifest_text: await manifestText() });
  assert.equal(result, '/deployments/nginx');
  assert.deepEqual(stepLines(events), [
    'Preparing deployment: Preparing deployment',
    'Preparing deployment: Rendering templates',
    'Preparing package compilation: Finding packages to compile',
    'Compiling packages: libfoo/fp-libfoo',
    'Compiling packages: nginx/fp-nginx',
    'Creating missing vms: nginx/<uuid> (0)',
    'Updating instance nginx: nginx/<uuid> (0) (canary)',
  ]);

  const compiles = director.agents.calls.filter((c) => c.method === 'compile_package');
  assert.deepEqual(compiles.map((c) => c.args.slice(2, 4)), [['libfoo', 'fp-libfoo.1'], ['nginx', 'fp-nginx.1']]);
  assert.deepEqual(compiles[1].args[4], { libfoo: { name: 'libfoo', version: 'fp-libfoo.1', sha1: 'csha-1', blobstore_id: 'compiled-1' } });
  assert.equal(director.cpi.vms.size, 1, 'compilation VMs are gone, the nginx VM stays');
  const [vm] = director.cpi.vms.values();
  assert.equal(vm.networks.default.ip, '10.245.0.10');

  const apply = director.agents.calls.filter((c) => c.method === 'apply' && c.agentId === vm.agentId).at(-1)!.args[0] as ApplySpec;
  assert.deepEqual(apply.packages, { nginx: { name: 'nginx', version: 'fp-nginx.1', sha1: 'csha-2', blobstore_id: 'compiled-2' } });
  assert.equal(apply.job!.name, 'nginx');
  assert.match(apply.configuration_hash!, /^[0-9a-f]{40}$/);
  const unpacked = join(work, 'rendered');
  await mkdir(unpacked);
  await director.blobstore.get(apply.rendered_templates_archive!.blobstore_id, join(work, 'rendered.tgz'));
  await extractTar({ file: join(work, 'rendered.tgz'), cwd: unpacked });
  const page = await readFile(join(unpacked, 'nginx/html/index.html'), 'utf8');
  assert.match(page, /<h1>Hello from Capstan<\/h1>/);
  assert.match(page, /ip 10\.245\.0\.10/);
  assert.match(await readFile(join(unpacked, 'nginx/config/nginx.conf'), 'utf8'), /listen 80;/);
  assert.ok(director.agents.methods(vm.agentId).includes('start'));
});

test('deploying the same manifest again changes nothing', async () => {
  const before = director.agents.calls.length;
  const events = new RecordingEventLog();
  await taskJobs.update_deployment(director, fakeTask(events), { deployment_name: 'nginx', manifest_text: await manifestText() });
  assert.deepEqual(stepLines(events), [
    'Preparing deployment: Preparing deployment',
    'Preparing deployment: Rendering templates',
    'Preparing package compilation: Finding packages to compile',
  ]);
  // only the state check of the existing VM (get_state), no change
  assert.deepEqual(director.agents.calls.slice(before).map((c) => c.method), ['get_state']);
});

test('a changed vm_type replaces the VM: drain for shutdown, stop, delete, create, apply, start', async () => {
  const [old] = director.cpi.vms.values();
  const cloudConfig = (await readFile(join(EXAMPLE, 'cloud-config.yml'), 'utf8')).replace('- name: default\n\nnetworks', '- name: default\n  cloud_properties: {size: large}\n\nnetworks');
  assert.match(cloudConfig, /size: large/);
  await director.db.insertInto('configs').values({ type: 'cloud', name: 'default', content: cloudConfig, created_at: new Date().toISOString(), deleted: 0 }).execute();
  const events = new RecordingEventLog();
  await taskJobs.update_deployment(director, fakeTask(events), { deployment_name: 'nginx', manifest_text: await manifestText() });
  assert.deepEqual(stepLines(events).slice(3), ['Updating instance nginx: nginx/<uuid> (0) (canary)']);
  assert.ok(director.cpi.deleted.includes(old.cid));
  const [vm] = director.cpi.vms.values();
  assert.notEqual(vm.cid, old.cid);
  assert.deepEqual(vm.cloudProperties, { size: 'large' });
  assert.deepEqual(director.agents.methods(old.agentId).slice(-4), ['run_script pre-stop', 'drain', 'stop', 'run_script post-stop']);
  assert.equal(director.agents.calls.filter((c) => c.agentId === old.agentId && c.method === 'drain').at(-1)!.args[0], 'shutdown');
  assert.deepEqual(director.agents.methods(vm.agentId), ['apply', 'apply', 'run_script pre-start', 'start', 'get_state', 'run_script post-start', 'run_script post-deploy']);
});

test('vms lists the VM with live job state and IPs', async () => {
  const task = fakeTask();
  await taskJobs.vms(director, task, { deployment_name: 'nginx', format: 'full' });
  assert.equal(task.results.length, 1);
  const line = JSON.parse(task.results[0]);
  assert.equal(line.job_name, 'nginx');
  assert.equal(line.job_state, 'running');
  assert.deepEqual(line.ips, ['10.245.0.10']);
  assert.equal(line.az, 'z1');
  assert.equal(line.bootstrap, true);
  assert.match(line.vm_created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.deepEqual(line.stemcell, { name: 'capstan-debian-bookworm', version: '1', api_version: 2 });
});

test('run_errand creates the errand VM, runs it, reports and deletes the VM', async () => {
  const events = new RecordingEventLog();
  const task = fakeTask(events);
  const result = await taskJobs.run_errand(director, task, { deployment_name: 'nginx', errand_name: 'smoke-test', keep_alive: false });
  assert.equal(result, '1 succeeded, 0 errored, 0 canceled');
  const line = JSON.parse(task.results[0]);
  assert.equal(line.exit_code, 0);
  assert.equal(line.stdout, 'smoke-test: PASSED\n');
  assert.deepEqual(line.logs, { blobstore_id: 'logs-blob' });
  assert.equal(line.instance.group, 'smoke-test');
  assert.ok(stepLines(events).includes('Running errand: smoke-test/<uuid> (0)'));
  assert.equal(director.cpi.vms.size, 1, 'only the nginx VM is left');
});

test('delete_deployment removes VMs, instances and IP reservations', async () => {
  const events = new RecordingEventLog();
  await taskJobs.delete_deployment(director, fakeTask(events), { deployment_name: 'nginx', force: false });
  assert.equal(director.cpi.vms.size, 0);
  for (const table of ['instances', 'vms', 'ip_addresses', 'rendered_templates_archives', 'deployments'] as const) {
    assert.equal((await director.db.selectFrom(table).selectAll().execute()).length, 0, `${table} is empty`);
  }
  assert.ok(stepLines(events).some((l) => l.startsWith('Deleting instances: nginx/')));
  await assert.rejects(taskJobs.delete_deployment(director, fakeTask(), { deployment_name: 'nginx' }), { message: "Deployment 'nginx' doesn't exist" });
});
