// Release and stemcell uploads through the API: raw tarball bodies, tasks, events, DB rows, blobs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BLOB_USER, httpsCall, makeTempDir, startTestDirector, taskEvents, taskIdFrom, type TestDirector } from './helpers.js';

let director: TestDirector;
let temp: ReturnType<typeof makeTempDir>;
const tarball = { 'content-type': 'application/x-compressed' };

before(async () => {
  temp = makeTempDir('director-uploads');
  director = await startTestDirector(temp.dir);
});
after(async () => {
  await director.close();
  temp.remove();
});

const sha1 = (path: string) => createHash('sha1').update(readFileSync(path)).digest('hex');

function write(path: string, text: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
}

/** A small source release, packed with tar the way release tarballs are. */
function buildRelease(root: string, version: string, name = 'demo'): string {
  const release = join(root, `release-${version}`);
  write(join(root, 'job', 'job.MF'), 'name: web\ntemplates:\n  ctl.erb: bin/ctl\npackages: [static]\nproperties:\n  port: {default: 8080}\n');
  write(join(root, 'job', 'monit'), 'check process web\n');
  write(join(root, 'job', 'templates', 'ctl.erb'), '#!/bin/sh\necho <%= p("port") %>\n');
  write(join(root, 'pkg', 'packaging'), 'cp -a . "$BOSH_INSTALL_TARGET"\n');
  write(join(root, 'pkg', 'index.html'), 'hello\n');
  mkdirSync(join(release, 'jobs'), { recursive: true });
  mkdirSync(join(release, 'packages'), { recursive: true });
  execFileSync('tar', ['czf', join(release, 'jobs', 'web.tgz'), '-C', join(root, 'job'), '.']);
  execFileSync('tar', ['czf', join(release, 'packages', 'static.tgz'), '-C', join(root, 'pkg'), '.']);
  const jobSha = sha1(join(release, 'jobs', 'web.tgz'));
  const pkgSha = sha1(join(release, 'packages', 'static.tgz'));
  writeFileSync(
    join(release, 'release.MF'),
    [
      `name: ${name}`,
      `version: "${version}"`,
      'commit_hash: abc1234',
      'uncommitted_changes: false',
      'jobs:',
      `- {name: web, version: jobfp1, fingerprint: jobfp1, sha1: ${jobSha}, packages: [static]}`,
      'packages:',
      `- {name: static, version: pkgfp1, fingerprint: pkgfp1, sha1: ${pkgSha}, dependencies: []}`,
      '',
    ].join('\n'),
  );
  const out = join(root, `${name}-${version}.tgz`);
  execFileSync('tar', ['czf', out, '-C', release, 'release.MF', 'jobs', 'packages']);
  return out;
}

test('a release tarball uploaded as a raw body becomes a release version with blobs', async () => {
  const path = buildRelease(temp.dir, '1');
  const id = taskIdFrom(await director.request('POST', '/releases', { headers: tarball, body: readFileSync(path) }));
  const task = await director.waitForTask(id);
  assert.equal(task.state, 'done', task.result ?? '');
  assert.equal(task.result, "Created release 'demo/1'");
  assert.equal(task.description, 'create release');

  const events = await taskEvents(director, id);
  const finished = events.filter((e) => e.state === 'finished').map((e) => `${e.stage}: ${e.task}`);
  assert.deepEqual(finished, [
    'Extracting release: Extracting release',
    'Verifying manifest: Verifying manifest',
    'Resolving package dependencies: Resolving package dependencies',
    'Creating new packages: static/pkgfp1',
    'Creating new jobs: web/jobfp1',
    'Release has been created: demo/1',
  ]);

  const releases = (await director.request('GET', '/releases')).json();
  assert.deepEqual(releases, [
    { name: 'demo', release_versions: [{ version: '1', commit_hash: 'abc1234', uncommitted_changes: false, currently_deployed: false, job_names: ['web'] }] },
  ]);
  const inspect = (await director.request('GET', '/releases/demo?version=1')).json();
  assert.equal(inspect.jobs[0].name, 'web');
  assert.equal(inspect.packages[0].fingerprint, 'pkgfp1');

  // The job blob is served by the embedded blob server, byte for byte.
  const blob = await httpsCall(director.blobstorePort, 'GET', `/${inspect.jobs[0].blobstore_id}`, { auth: { name: BLOB_USER.user, password: BLOB_USER.password } });
  assert.equal(blob.status, 200);
  assert.equal(createHash('sha1').update(blob.body).digest('hex'), inspect.jobs[0].sha1);

  // The spooled upload is gone once the task is over.
  assert.deepEqual(readdirSync(join(director.config.base_dir, 'tmp')), []);
});

test('the CLI may leave out packages the director has; they are copied from the stored blob', async () => {
  const matches = await director.request('POST', '/packages/matches', {
    headers: { 'content-type': 'text/yaml' },
    body: 'name: other\npackages:\n- {name: static, fingerprint: pkgfp1}\n- {name: x, fingerprint: nope}\n',
  });
  assert.deepEqual(matches.json(), ['pkgfp1']);

  const full = buildRelease(join(temp.dir, 'other'), '7', 'other');
  const slim = join(temp.dir, 'slim');
  mkdirSync(slim, { recursive: true });
  execFileSync('tar', ['xzf', full, '-C', slim]);
  execFileSync('tar', ['czf', join(temp.dir, 'slim.tgz'), '-C', slim, 'release.MF', 'jobs']);
  const id = taskIdFrom(await director.request('POST', '/releases', { headers: tarball, body: readFileSync(join(temp.dir, 'slim.tgz')) }));
  const task = await director.waitForTask(id);
  assert.equal(task.state, 'done', task.result ?? '');
  assert.equal(task.result, "Created release 'other/7'");
  const demo = (await director.request('GET', '/releases/demo?version=1')).json();
  const other = (await director.request('GET', '/releases/other?version=7')).json();
  assert.notEqual(other.packages[0].blobstore_id, demo.packages[0].blobstore_id);
  const blob = await httpsCall(director.blobstorePort, 'GET', `/${other.packages[0].blobstore_id}`, { auth: { name: BLOB_USER.user, password: BLOB_USER.password } });
  assert.equal(createHash('sha1').update(blob.body).digest('hex'), demo.packages[0].sha1);
});

test('uploading the same release version again changes nothing and succeeds', async () => {
  const id = taskIdFrom(await director.request('POST', '/releases', { headers: tarball, body: readFileSync(join(temp.dir, 'demo-1.tgz')) }));
  const task = await director.waitForTask(id);
  assert.equal(task.state, 'done', task.result ?? '');
  const stages = (await taskEvents(director, id)).filter((e) => e.state === 'finished').map((e) => e.stage);
  assert.ok(stages.includes('Processing 1 existing packages') && stages.includes('Processing 1 existing jobs'), stages.join(', '));
  assert.equal((await director.request('GET', '/releases')).json().find((r: any) => r.name === 'demo').release_versions.length, 1);
});

test('a broken release fails its task with the reason', async () => {
  writeFileSync(join(temp.dir, 'junk.tgz'), 'not a tarball');
  const id = taskIdFrom(await director.request('POST', '/releases', { headers: tarball, body: readFileSync(join(temp.dir, 'junk.tgz')) }));
  const task = await director.waitForTask(id);
  assert.equal(task.state, 'error');
  const events = await taskEvents(director, id);
  assert.equal(events.at(-1)!.error.code, 100);
  assert.ok(events.some((e) => e.stage === 'Extracting release' && e.state === 'failed'));
});

test('deleting a release removes its versions, rows and blobs, and leaves other releases alone', async () => {
  const blobs = () => readdirSync(director.config.blobstore.path).filter((f) => !f.startsWith('.')).sort();
  const other = (await director.request('GET', '/releases/other?version=7')).json();
  const otherBlobs = [other.jobs[0].blobstore_id, other.packages[0].blobstore_id].sort();
  assert.equal(blobs().length, 4);
  const id = taskIdFrom(await director.request('DELETE', '/releases/demo'));
  const task = await director.waitForTask(id);
  assert.equal(task.state, 'done', task.result ?? '');
  assert.equal(task.description, 'delete release: demo');
  assert.deepEqual((await director.request('GET', '/releases')).json().map((r: any) => r.name), ['other']);
  assert.deepEqual(blobs(), otherBlobs);
  assert.equal((await director.request('DELETE', '/releases/demo')).json().code, 30005);
});

test('a stemcell upload goes to the CPI and is listed; deleting it asks the CPI to delete it', async () => {
  const dir = join(temp.dir, 'stemcell');
  write(join(dir, 'image'), 'image-bytes');
  write(
    join(dir, 'stemcell.MF'),
    `name: capstan-debian\nversion: "12.1"\noperating_system: debian-bookworm\nsha1: ${sha1(join(dir, 'image'))}\napi_version: 2\nstemcell_formats: [dummy]\ncloud_properties: {image: x}\n`,
  );
  execFileSync('tar', ['czf', join(temp.dir, 'stemcell.tgz'), '-C', dir, 'stemcell.MF', 'image']);
  const needed = () => director.request('POST', '/stemcell_uploads', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ stemcell: { name: 'capstan-debian', version: '12.1' } }) });
  assert.deepEqual((await needed()).json(), { needed: true });

  const id = taskIdFrom(await director.request('POST', '/stemcells', { headers: tarball, body: readFileSync(join(temp.dir, 'stemcell.tgz')) }));
  const task = await director.waitForTask(id);
  assert.equal(task.state, 'done', task.result ?? '');
  assert.equal(task.result, '/stemcells/capstan-debian/12.1');
  assert.deepEqual(director.cpi.calls.map((c) => c.method), ['create_stemcell']);
  assert.deepEqual(director.cpi.calls[0].args[1], { image: 'x' });
  const steps = (await taskEvents(director, id)).filter((e) => e.state === 'finished').map((e) => `${e.stage}: ${e.task}`);
  assert.deepEqual(steps, [
    'Update stemcell: Extracting stemcell archive',
    'Update stemcell: Verifying stemcell manifest',
    'Update stemcell: Checking if this stemcell already exists',
    'Update stemcell: Uploading stemcell capstan-debian/12.1 to the cloud',
    'Update stemcell: Save stemcell capstan-debian/12.1 (stemcell-cid-1)',
  ]);
  assert.deepEqual((await needed()).json(), { needed: false });
  const [stemcell] = (await director.request('GET', '/stemcells')).json();
  assert.deepEqual(
    { ...stemcell, id: undefined },
    { name: 'capstan-debian', operating_system: 'debian-bookworm', version: '12.1', cid: 'stemcell-cid-1', cpi: '', deployments: [], api_version: 2, id: undefined },
  );

  const del = taskIdFrom(await director.request('DELETE', '/stemcells/capstan-debian/12.1'));
  assert.equal((await director.waitForTask(del)).state, 'done');
  assert.deepEqual(director.cpi.calls.map((c) => c.method), ['create_stemcell', 'delete_stemcell']);
  assert.deepEqual((await director.request('GET', '/stemcells')).json(), []);
  assert.equal((await director.request('DELETE', '/stemcells/capstan-debian/12.1')).status, 404);
  assert.ok(!existsSync(join(director.config.base_dir, 'tmp', 'stemcell')));
});
