// createRelease -> release tarball -> readReleaseTarball / readJobArchive, on a fixture release dir.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile, writeFile, stat, unlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { createRelease, readReleaseTarball, readJobArchive } from '../../src/release/index.js';
import { createTgz, safeExtract } from '../../src/common/tar.js';
import { makeReleaseDir, writeFiles } from './helpers/fixtures.js';

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'capstan-release-test-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const byName = <T extends { name: string }>(items: T[]) => Object.fromEntries(items.map((i) => [i.name, i]));

test('create-release writes a dev release tarball that reads back with the same manifest', async () => {
  await withTmp(async (dir) => {
    const rel = join(dir, 'release');
    await makeReleaseDir(rel);
    const created = await createRelease(rel, { tarball: join(dir, 'demo.tgz') });
    assert.equal(created.manifest.name, 'demo');
    assert.equal(created.manifest.version, '0+dev.1');
    assert.equal(created.tarballPath, join(dir, 'demo.tgz'));
    assert.deepEqual(created.manifest.jobs.map((j) => j.name), ['check', 'web']);
    assert.deepEqual(created.manifest.packages.map((p) => [p.name, p.dependencies]), [['app', ['runtime']], ['runtime', []]]);
    for (const item of [...created.manifest.jobs, ...created.manifest.packages]) {
      assert.match(item.fingerprint, /^[0-9a-f]{40}$/);
      assert.equal(item.version, item.fingerprint);
      assert.match(item.sha1, /^[0-9a-f]{40}$/);
    }

    const out = join(dir, 'out');
    const read = await readReleaseTarball(created.tarballPath, out);
    assert.deepEqual(read, created.manifest);
    assert.ok(existsSync(join(out, 'jobs/web.tgz')) && existsSync(join(out, 'packages/app.tgz')));

    const app = join(dir, 'app');
    await safeExtract(join(out, 'packages/app.tgz'), app);
    assert.equal(await readFile(join(app, 'app/main.txt'), 'utf8'), 'hello\n');
    assert.ok((await stat(join(app, 'app/lib/run.sh'))).mode & 0o100, 'executable bit kept');
    assert.ok(existsSync(join(app, 'packaging')));
    assert.equal(existsSync(join(app, 'app/scratch.tmp')), false, 'excluded_files are left out');
    const runtime = join(dir, 'runtime');
    await safeExtract(join(out, 'packages/runtime.tgz'), runtime);
    assert.equal(await readFile(join(runtime, 'runtime/engine.bin'), 'utf8'), 'BLOB-CONTENT', 'blob at its blobs/ relative path');

    const job = await readJobArchive(join(out, 'jobs/web.tgz'), join(dir, 'web'));
    assert.deepEqual(job.templates, { 'ctl.erb': 'bin/ctl', 'config.yml.erb': 'config/config.yml' });
    assert.deepEqual(job.packages, ['app']);
    assert.deepEqual(job.properties['web.port'], { description: 'port', default: 8080 });
    assert.equal(job.properties['web.enabled'].default, true, 'YAML 1.1: yes is a boolean');
    assert.deepEqual(job.provides, [{ name: 'web', type: 'http' }]);
    assert.ok(existsSync(join(dir, 'web/templates/ctl.erb')) && existsSync(join(dir, 'web/monit')));
    const errand = await readJobArchive(join(out, 'jobs/check.tgz'), join(dir, 'check'));
    assert.deepEqual(errand.packages, []);
  });
});

test('fingerprints and archives are stable across runs; dev versions increment in dev_releases/', async () => {
  await withTmp(async (dir) => {
    const rel = join(dir, 'release');
    await makeReleaseDir(rel);
    const first = await createRelease(rel);
    const second = await createRelease(rel);
    assert.equal(second.manifest.version, '0+dev.2');
    assert.equal(first.tarballPath, join(rel, 'dev_releases/demo/demo-0+dev.1.tgz'));
    const strip = (m: typeof first.manifest) => ({ jobs: m.jobs, packages: m.packages });
    assert.deepEqual(strip(second.manifest), strip(first.manifest));
    const index = parse(await readFile(join(rel, 'dev_releases/demo/index.yml'), 'utf8'));
    assert.deepEqual(Object.values(index.builds).map((b) => (b as { version: string }).version).sort(), ['0+dev.1', '0+dev.2']);
    assert.ok(existsSync(join(rel, 'dev_releases/demo/demo-0+dev.2.yml')));

    await writeFile(join(rel, 'src/app/main.txt'), 'changed\n');
    const third = await createRelease(rel);
    assert.notEqual(byName(third.manifest.packages).app.fingerprint, byName(first.manifest.packages).app.fingerprint);
    assert.equal(byName(third.manifest.packages).runtime.fingerprint, byName(first.manifest.packages).runtime.fingerprint);
    assert.equal(byName(third.manifest.jobs).web.fingerprint, byName(first.manifest.jobs).web.fingerprint);

    await assert.rejects(createRelease(rel, { version: '0+dev.1' }), /already exists.*--force/);
    const forced = await createRelease(rel, { version: '0+dev.1', force: true });
    assert.equal(forced.manifest.version, '0+dev.1');
    const stamped = await createRelease(rel, { timestamp_version: true, name: 'other' });
    assert.match(stamped.manifest.version, /^0\+dev\.\d{10}$/);
    assert.equal(stamped.manifest.name, 'other');
  });
});

test('create-release names the file at fault', async () => {
  await withTmp(async (dir) => {
    const rel = join(dir, 'release');
    await makeReleaseDir(rel);
    await unlink(join(rel, 'blobs/runtime/engine.bin'));
    await assert.rejects(createRelease(rel), /packages\/runtime\/spec: files\[0\]: no file matches 'runtime\/\*\.bin' in src\/ or blobs\//);
    await writeFiles(rel, { 'blobs/runtime/engine.bin': 'x', 'jobs/web/spec': 'name: web\ntemplates:\n  missing.erb: bin/x\n' });
    await assert.rejects(createRelease(rel), /jobs\/web\/spec: templates: 'missing\.erb' is listed but jobs\/web\/templates\/missing\.erb is missing/);
    await writeFiles(rel, { 'jobs/web/spec': 'name: web\npackages: [nope]\n' });
    await assert.rejects(createRelease(rel), /jobs\/web\/spec: packages\[0\]: unknown package 'nope'/);
    await writeFiles(rel, { 'jobs/web/spec': 'name: web\ntemplates: [a, b]\n' });
    await assert.rejects(createRelease(rel), (err: Error) => /jobs\/web\/spec:2: templates: Expected record/.test(err.message));
    await writeFiles(rel, { 'jobs/web/spec': 'name: web\n', 'packages/runtime/spec': 'name: runtime\nfiles: [runtime/*.bin]\ndependencies: [app]\n' });
    await assert.rejects(createRelease(rel), /Package dependency cycle: app -> runtime -> app/);
  });
});

async function repack(dir: string, src: string, edit: (mf: Record<string, any>) => void): Promise<string> {
  const unpacked = join(dir, 'unpacked');
  await safeExtract(src, unpacked);
  const mf = parse(await readFile(join(unpacked, 'release.MF'), 'utf8'));
  edit(mf);
  await writeFile(join(unpacked, 'release.MF'), JSON.stringify(mf));
  const out = join(dir, 'tampered.tgz');
  await createTgz(unpacked, out);
  await rm(unpacked, { recursive: true });
  return out;
}

test('readReleaseTarball rejects a release whose archives do not match release.MF', async () => {
  await withTmp(async (dir) => {
    const rel = join(dir, 'release');
    await makeReleaseDir(rel);
    const { tarballPath } = await createRelease(rel, { tarball: join(dir, 'demo.tgz') });

    const badSha = await repack(dir, tarballPath, (mf) => (mf.jobs[1].sha1 = '0'.repeat(40)));
    await assert.rejects(readReleaseTarball(badSha, join(dir, 'x1')), (err: Error) => {
      assert.match(err.message, /Release 'demo\/0\+dev\.1' job 'web': web\.tgz does not match its sha1 in release\.MF/);
      assert.match(err.message, /Expected stream to have digest '0{40}'/);
      return true;
    });

    const missing = await repack(dir, tarballPath, (mf) => mf.packages.push({ name: 'ghost', version: 'v', fingerprint: 'f', sha1: 'a'.repeat(40), dependencies: [] }));
    await assert.rejects(readReleaseTarball(missing, join(dir, 'x2')), /package 'ghost': archive ghost\.tgz listed in release\.MF is missing/);
    const allowed = await readReleaseTarball(missing, join(dir, 'x3'), { allowMissingPackages: true });
    assert.deepEqual(allowed.packages.map((p) => p.name), ['app', 'runtime', 'ghost']);

    const badName = await repack(dir, tarballPath, (mf) => (mf.name = 'no spaces allowed'));
    await assert.rejects(readReleaseTarball(badName, join(dir, 'x4')), /invalid release name 'no spaces allowed'/);

    const noJobs = await repack(dir, tarballPath, (mf) => (mf.jobs = 'nope'));
    await assert.rejects(readReleaseTarball(noJobs, join(dir, 'x5')), /release\.MF:\d+: jobs: Expected array/);
  });
});

test('readJobArchive requires the listed templates and a monit file', async () => {
  await withTmp(async (dir) => {
    await writeFiles(join(dir, 'job'), { 'job.MF': 'name: web\ntemplates:\n  ctl.erb: bin/ctl\n', monit: '' });
    await createTgz(join(dir, 'job'), join(dir, 'web.tgz'));
    await assert.rejects(readJobArchive(join(dir, 'web.tgz'), join(dir, 'x1')), /Job 'web' \(web\.tgz\): template 'ctl\.erb' listed in job\.MF is missing from templates\//);

    await writeFiles(join(dir, 'job2'), { 'job.MF': 'name: web\ntemplates:\n  ctl.erb: bin/ctl\n', 'templates/ctl.erb': '' });
    await createTgz(join(dir, 'job2'), join(dir, 'web2.tgz'));
    await assert.rejects(readJobArchive(join(dir, 'web2.tgz'), join(dir, 'x2')), /Job 'web' \(web2\.tgz\): monit file is missing/);
    await assert.rejects(readJobArchive(join(dir, 'web2.tgz'), join(dir, 'x3'), { expectedName: 'api' }), /job name 'web' does not match 'api'/);

    await writeFiles(join(dir, 'job3'), { 'job.MF': 'name: web\ntemplates:\n  ctl.erb: ../../etc/cron.d/x\n', 'templates/ctl.erb': '', monit: '' });
    await createTgz(join(dir, 'job3'), join(dir, 'web3.tgz'));
    await assert.rejects(readJobArchive(join(dir, 'web3.tgz'), join(dir, 'x4')), /template path '\.\.\/\.\.\/etc\/cron\.d\/x' must be relative/);
  });
});
