// Release and stemcell uploads through the API: raw tarball bodies or URLs the director downloads, tasks,
// events, DB rows, blobs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { copyFileSync, createReadStream, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BLOB_USER, httpsCall, makeTempDir, startTestDirector, taskEvents, taskIdFrom, type TestDirector } from './helpers.js';

let director: TestDirector;
let temp: ReturnType<typeof makeTempDir>;
let files: Server;
let filesUrl: string;
const tarball = { 'content-type': 'application/x-compressed' };

before(async () => {
  temp = makeTempDir('director-uploads');
  director = await startTestDirector(temp.dir);
  // a loopback web server for tarballs uploaded by URL (serves <temp>/www)
  files = createServer((req, res) => {
    const stream = createReadStream(join(temp.dir, 'www', (req.url ?? '').replace(/\.\./g, '')));
    stream.on('error', () => res.writeHead(404).end());
    stream.pipe(res);
  });
  await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
  filesUrl = `http://127.0.0.1:${(files.address() as { port: number }).port}`;
});
after(async () => {
  await new Promise((r) => files?.close(r));
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

const json = { 'content-type': 'application/json' };
const finishedSteps = async (id: number) => (await taskEvents(director, id)).filter((e) => e.state === 'finished').map((e) => `${e.stage}: ${e.task}`);

/** A stemcell tarball published on the test web server as www/<file>. */
function publishStemcell(file: string, version: string): string {
  const dir = join(temp.dir, `stemcell-${version}`);
  write(join(dir, 'image'), `image-${version}`);
  write(join(dir, 'stemcell.MF'), `name: web-stemcell\nversion: "${version}"\noperating_system: debian-bookworm\nsha1: ${sha1(join(dir, 'image'))}\n`);
  mkdirSync(join(temp.dir, 'www'), { recursive: true });
  const path = join(temp.dir, 'www', file);
  execFileSync('tar', ['czf', path, '-C', dir, 'stemcell.MF', 'image']);
  return path;
}

test('a stemcell uploaded by URL is downloaded, its sha256 digest verified, and created like an uploaded one', async () => {
  const path = publishStemcell('web-1.tgz', '1');
  const digest = `sha256:${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
  const before = director.cpi.calls.length;
  const id = taskIdFrom(await director.request('POST', '/stemcells', { headers: json, body: JSON.stringify({ location: `${filesUrl}/web-1.tgz`, sha1: digest }) }));
  const task = await director.waitForTask(id);
  assert.equal(task.state, 'done', task.result ?? '');
  assert.equal(task.description, 'create stemcell');
  assert.equal(task.result, '/stemcells/web-stemcell/1');
  const steps = await finishedSteps(id);
  assert.deepEqual(steps.slice(0, 3), ['Update stemcell: Downloading remote stemcell', 'Update stemcell: Verifying remote stemcell', 'Update stemcell: Extracting stemcell archive']);
  assert.deepEqual(director.cpi.calls.slice(before).map((c) => c.method), ['create_stemcell']);
  const listed = (await director.request('GET', '/stemcells')).json().map((s: any) => `${s.name}/${s.version}`);
  assert.ok(listed.includes('web-stemcell/1'), listed.join(', '));
  assert.deepEqual(readdirSync(join(director.config.base_dir, 'tmp')), []);
});

test('a stemcell URL with a wrong digest fails the task with the mismatch and leaves nothing behind', async () => {
  publishStemcell('web-2.tgz', '2');
  const before = director.cpi.calls.length;
  const id = taskIdFrom(await director.request('POST', '/stemcells', { headers: json, body: JSON.stringify({ location: `${filesUrl}/web-2.tgz`, sha1: 'f'.repeat(40) }) }));
  const task = await director.waitForTask(id);
  assert.equal(task.state, 'error');
  const events = await taskEvents(director, id);
  assert.ok(events.some((e) => e.task === 'Verifying remote stemcell' && e.state === 'failed'));
  const { error } = events.at(-1)!;
  assert.match(error.message, /Verifying remote stemcell from 'http:\/\/127\.0\.0\.1:\d+\/web-2\.tgz' failed: Expected stream to have digest 'f{40}' but was '[0-9a-f]{40}'/);
  assert.equal(error.code, 50007);
  assert.equal(director.cpi.calls.length, before);
  const listed = (await director.request('GET', '/stemcells')).json().map((s: any) => `${s.name}/${s.version}`);
  assert.ok(!listed.includes('web-stemcell/2'), listed.join(', '));
  assert.deepEqual(readdirSync(join(director.config.base_dir, 'tmp')), []);
});

test('a stemcell URL that is not there fails the task with the HTTP status; non-http locations are refused', async () => {
  const id = taskIdFrom(await director.request('POST', '/stemcells', { headers: json, body: JSON.stringify({ location: `${filesUrl}/missing.tgz` }) }));
  const task = await director.waitForTask(id);
  assert.equal(task.state, 'error');
  const { error } = (await taskEvents(director, id)).at(-1)!;
  assert.match(error.message, /Downloading remote stemcell from '.*\/missing\.tgz' failed: HTTP 404 Not Found/);
  assert.equal(error.code, 100002);
  assert.deepEqual(readdirSync(join(director.config.base_dir, 'tmp')), []);

  const refused = await director.request('POST', '/stemcells', { headers: json, body: JSON.stringify({ location: '/etc/passwd' }) });
  assert.equal(refused.status, 400);
});

test('a release uploaded by URL is downloaded and verified through the same steps', async () => {
  mkdirSync(join(temp.dir, 'www'), { recursive: true });
  copyFileSync(buildRelease(join(temp.dir, 'web-release'), '3', 'webrel'), join(temp.dir, 'www', 'webrel-3.tgz'));
  const location = `${filesUrl}/webrel-3.tgz`;
  const bad = taskIdFrom(await director.request('POST', '/releases', { headers: json, body: JSON.stringify({ location, sha1: 'sha256:' + '0'.repeat(64) }) }));
  const failed = await director.waitForTask(bad);
  assert.equal(failed.state, 'error');
  const { error } = (await taskEvents(director, bad)).at(-1)!;
  assert.match(error.message, /Verifying remote release from .* failed: Expected stream to have digest 'sha256:0{64}' but was 'sha256:[0-9a-f]{64}'/);
  assert.equal(error.code, 30015);

  const id = taskIdFrom(await director.request('POST', '/releases', { headers: json, body: JSON.stringify({ location, sha1: sha1(join(temp.dir, 'www', 'webrel-3.tgz')) }) }));
  const task = await director.waitForTask(id);
  assert.equal(task.state, 'done', task.result ?? '');
  assert.equal(task.result, "Created release 'webrel/3'");
  assert.deepEqual((await finishedSteps(id)).slice(0, 2), ['Downloading remote release: Downloading remote release', 'Verifying remote release: Verifying remote release']);
  assert.deepEqual(readdirSync(join(director.config.base_dir, 'tmp')), []);
});
