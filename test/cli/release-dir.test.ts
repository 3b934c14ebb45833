// The release workflow through bin/capstan: init-release, generate-job, generate-package,
// add-blob, blobs, remove-blob, create-release; the resulting tarball and one in the bosh CLI's
// layout (./-prefixed entries, sha256 digests, a license) are read by the director's reader.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tar from 'tar';
import { readReleaseTarball } from '../../src/release/tarball.js';

const BIN = resolve(import.meta.dirname, '../../bin/capstan');
let work: string;

before(() => {
  work = mkdtempSync(join(tmpdir(), 'capstan-release-dir-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

function capstan(args: string[], cwd = work): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(BIN, args, { cwd, env: { PATH: process.env.PATH, CAPSTAN_HOME: join(work, 'home') } }, (err, stdout, stderr) =>
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: stdout.replace(/ +$/gm, ''), stderr }),
    );
  });
}

async function ok(args: string[], cwd?: string): Promise<string> {
  const { code, stdout, stderr } = await capstan(args, cwd);
  assert.equal(code, 0, `capstan ${args.join(' ')}: ${stderr}`);
  return stdout;
}

test('init-release, generate-job/package, add-blob, blobs, remove-blob, create-release: a tarball the director reads', async () => {
  const dir = join(work, 'hello-release');
  mkdirSync(dir);
  await ok(['init-release', '--git'], dir);
  assert.match(readFileSync(join(dir, 'config/final.yml'), 'utf8'), /^name: hello$/m);
  // --git: a git repository whose .gitignore keeps blobs and dev releases out (as bosh's)
  assert.ok(existsSync(join(dir, '.git', 'HEAD')));
  const ignored = readFileSync(join(dir, '.gitignore'), 'utf8').split('\n');
  for (const entry of ['config/private.yml', 'blobs', '.blobs', 'dev_releases', '.dev_builds', 'releases/*.tgz']) assert.ok(ignored.includes(entry), entry);
  assert.equal((await capstan(['init-release'], dir)).code, 1);

  await ok(['generate-job', 'hello'], dir);
  await ok(['generate-package', 'greeting'], dir);
  assert.match(readFileSync(join(dir, 'jobs/hello/spec'), 'utf8'), /^name: hello$/m);
  assert.match(readFileSync(join(dir, 'packages/greeting/spec'), 'utf8'), /^files: \[\]$/m);
  assert.match((await capstan(['generate-job', 'hello'], dir)).stderr, /Job 'hello' already exists/);
  assert.match((await capstan(['generate-job', 'bad/name'], dir)).stderr, /Expected job name 'bad\/name'/);

  writeFileSync(join(work, 'greeting.txt'), 'hello world\n');
  writeFileSync(join(work, 'extra.bin'), Buffer.alloc(2048, 1));
  await ok(['add-blob', join(work, 'greeting.txt'), 'greeting/greeting.txt'], dir);
  await ok(['add-blob', join(work, 'extra.bin'), 'extra/extra.bin'], dir);
  const sha = createHash('sha256').update('hello world\n').digest('hex');
  assert.match(readFileSync(join(dir, 'config/blobs.yml'), 'utf8'), new RegExp(`greeting/greeting.txt:\\n  size: 12\\n  sha: sha256:${sha}`));
  const blobs = await ok(['blobs'], dir);
  assert.match(blobs, /^Path {19}Size {5}Blobstore ID  Digest$/m);
  assert.match(blobs, /^extra\/extra\.bin {8}2\.0 KiB  \(local\) {7}sha256:[0-9a-f]{64}$/m);
  assert.match(blobs, new RegExp(`^greeting/greeting\\.txt  12 B {5}\\(local\\) {7}sha256:${sha}$`, 'm'));
  await ok(['remove-blob', 'extra/extra.bin'], dir);
  assert.ok(!existsSync(join(dir, 'blobs/extra/extra.bin')));
  assert.doesNotMatch(readFileSync(join(dir, 'config/blobs.yml'), 'utf8'), /extra/);

  // the job runs a template from the package that holds the blob
  writeFileSync(join(dir, 'packages/greeting/spec'), '---\nname: greeting\ndependencies: []\nfiles:\n- greeting/greeting.txt\n');
  writeFileSync(join(dir, 'packages/greeting/packaging'), 'cp greeting/greeting.txt "$BOSH_INSTALL_TARGET/"\n');
  writeFileSync(join(dir, 'jobs/hello/spec'), '---\nname: hello\ntemplates:\n  ctl.erb: bin/ctl\npackages: [greeting]\nproperties:\n  port: {default: 8080}\n');
  writeFileSync(join(dir, 'jobs/hello/templates/ctl.erb'), '#!/bin/bash\necho <%= p("port") %>\n');
  // uncommitted changes in the git repository stop a release, committed ones give it the commit hash
  assert.match((await capstan(['create-release'], dir)).stderr, /Git repository has local modifications:\n\n\?\? \.gitignore\n\?\? config\/\n\?\? jobs\/\n\?\? packages\/\n/);
  const head = await commitAll(dir);
  const created = await ok(['create-release', '--tarball', join(work, 'hello.tgz')], dir);
  assert.match(created, /^Name {9}hello$/m);
  const manifest = await readReleaseTarball(join(work, 'hello.tgz'), join(work, 'extracted-hello'));
  assert.equal(manifest.name, 'hello');
  assert.equal(manifest.commit_hash, head);
  assert.deepEqual(manifest.jobs.map((j) => j.name), ['hello']);
  assert.deepEqual(manifest.packages.map((p) => p.name), ['greeting']);
  const inspected = await ok(['inspect-local-release', join(work, 'hello.tgz')]);
  assert.match(inspected, /^hello\/[0-9a-f]{40}  \S+\s+greeting$/m);
});

/** Commits everything git does not ignore; returns the short (8) hash, as in release.MF. */
function commitAll(dir: string): Promise<string> {
  const env = { PATH: process.env.PATH, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com', HOME: work };
  const git = (args: string[]) =>
    new Promise<string>((done, fail) => execFile('git', args, { cwd: dir, env }, (err, stdout, stderr) => (err ? fail(new Error(stderr)) : done(stdout.trim()))));
  return git(['add', '-A']).then(() => git(['commit', '--quiet', '-m', 'initial'])).then(() => git(['rev-parse', '--short=8', 'HEAD']));
}

/** A release tarball as the bosh CLI writes it: `./`-prefixed entries, sha256 digests, a license. */
async function boshLayoutRelease(root: string): Promise<string> {
  const digest = (file: string) => `sha256:${createHash('sha256').update(readFileSync(file)).digest('hex')}`;
  const pack = async (srcDir: string, out: string) => {
    await tar.c({ gzip: true, file: out, cwd: srcDir }, ['.']);
    return out;
  };
  const job = join(root, 'job');
  mkdirSync(join(job, 'templates'), { recursive: true });
  writeFileSync(join(job, 'job.MF'), '---\nname: web\ntemplates:\n  ctl.erb: bin/ctl\npackages:\n- app\nproperties:\n  port:\n    default: 80\n');
  writeFileSync(join(job, 'monit'), 'check process web\n  with pidfile /var/vcap/sys/run/web/pid\n');
  writeFileSync(join(job, 'templates/ctl.erb'), '#!/bin/bash\n');
  const pkg = join(root, 'pkg');
  mkdirSync(join(pkg, 'app'), { recursive: true });
  writeFileSync(join(pkg, 'packaging'), 'cp -a app/* "$BOSH_INSTALL_TARGET"\n');
  writeFileSync(join(pkg, 'app/run.sh'), 'echo hi\n');
  const lic = join(root, 'lic');
  mkdirSync(lic, { recursive: true });
  writeFileSync(join(lic, 'LICENSE'), 'Apache License 2.0\n');
  writeFileSync(join(lic, 'NOTICE'), 'Copyright\n');
  const rel = join(root, 'release');
  mkdirSync(join(rel, 'jobs'), { recursive: true });
  mkdirSync(join(rel, 'packages'), { recursive: true });
  const jobTgz = await pack(job, join(rel, 'jobs/web.tgz'));
  const pkgTgz = await pack(pkg, join(rel, 'packages/app.tgz'));
  const licTgz = await pack(lic, join(rel, 'license.tgz'));
  const fp = (c: string) => createHash('sha1').update(c).digest('hex');
  writeFileSync(
    join(rel, 'release.MF'),
    [
      'name: bosh-made',
      'version: 7.1.0',
      'commit_hash: 0a1b2c3d',
      'uncommitted_changes: false',
      'jobs:',
      '- name: web',
      `  version: ${fp('web')}`,
      `  fingerprint: ${fp('web')}`,
      `  sha1: ${digest(jobTgz)}`,
      '  packages:',
      '  - app',
      'packages:',
      '- name: app',
      `  version: ${fp('app')}`,
      `  fingerprint: ${fp('app')}`,
      `  sha1: ${digest(pkgTgz)}`,
      '  dependencies: []',
      'license:',
      `  version: ${fp('license')}`,
      `  fingerprint: ${fp('license')}`,
      `  sha1: ${digest(licTgz)}`,
      '',
    ].join('\n'),
  );
  return pack(rel, join(root, 'bosh-made-7.1.0.tgz'));
}

test('a release tarball in the bosh CLI layout (sha256 digests, license) is accepted', async () => {
  const root = join(work, 'bosh-layout');
  mkdirSync(root);
  const tgz = await boshLayoutRelease(root);
  const listed: string[] = [];
  await tar.t({ file: tgz, onReadEntry: (e) => listed.push(e.path) });
  assert.ok(listed.includes('./release.MF') && listed.includes('./license.tgz'), listed.join(' '));
  const manifest = await readReleaseTarball(tgz, join(root, 'extracted'));
  assert.equal(manifest.name, 'bosh-made');
  assert.match(manifest.license?.sha1 ?? '', /^sha256:/);
  assert.match(manifest.jobs[0].sha1, /^sha256:/);
  const inspected = await ok(['inspect-local-release', tgz]);
  assert.match(inspected, /^Name {9}bosh-made$/m);
  assert.match(inspected, /^web\/[0-9a-f]{40}  sha256:[0-9a-f]{64}  app$/m);
  assert.match(inspected, /^License: [0-9a-f]{40} \(sha256:[0-9a-f]{64}\)$/m);

  // a corrupted archive is refused with the digest that did not match
  writeFileSync(join(root, 'release/packages/app.tgz'), 'not the package');
  await tar.c({ gzip: true, file: join(root, 'broken.tgz'), cwd: join(root, 'release') }, ['.']);
  await assert.rejects(readReleaseTarball(join(root, 'broken.tgz'), join(root, 'extracted-broken')), /package 'app'.*does not match/);
});

test('inspect-local-stemcell prints stemcell.MF and the tarball sha1', async () => {
  const root = join(work, 'stemcell');
  mkdirSync(root);
  writeFileSync(join(root, 'stemcell.MF'), 'name: capstan-docker-ubuntu-jammy\nversion: "1.2"\noperating_system: ubuntu-jammy\nsha1: abc\napi_version: 3\nstemcell_formats: [docker-image]\ncloud_properties: {}\n');
  writeFileSync(join(root, 'image'), 'image');
  await tar.c({ gzip: true, file: join(work, 'stemcell.tgz'), cwd: root }, ['stemcell.MF', 'image']);
  const sha1 = createHash('sha1').update(readFileSync(join(work, 'stemcell.tgz'))).digest('hex');
  const out = await ok(['inspect-local-stemcell', join(work, 'stemcell.tgz')]);
  assert.match(out, /^Name {14}capstan-docker-ubuntu-jammy$/m);
  assert.match(out, /^Version {11}1\.2$/m);
  assert.match(out, new RegExp(`^SHA1 {14}${sha1}$`, 'm'));
  assert.match(out, /^Stemcell Formats  docker-image$/m);
  assert.match(out, /^API Version {7}3$/m);
});

test('upload-blobs puts new blobs into the local blobstore of config/final.yml; sync-blobs fetches missing ones', async () => {
  const dir = join(work, 'blobby');
  mkdirSync(dir);
  await ok(['init-release'], dir);
  writeFileSync(join(dir, 'config/final.yml'), `---\nname: blobby\nblobstore:\n  provider: local\n  options:\n    blobstore_path: ${join(work, 'store')}\n`);
  writeFileSync(join(work, 'data.txt'), 'blob data\n');
  await ok(['add-blob', join(work, 'data.txt'), 'data/data.txt'], dir);
  const up = await ok(['upload-blobs'], dir);
  const id = /^Blob upload 'data\/data\.txt' \(10 B\): (\S+)$/m.exec(up)?.[1];
  assert.ok(id, up);
  assert.equal(readFileSync(join(work, 'store', id), 'utf8'), 'blob data\n');
  assert.match(readFileSync(join(dir, 'config/blobs.yml'), 'utf8'), new RegExp(`object_id: ${id}`));
  assert.match(await ok(['blobs'], dir), new RegExp(`^data/data\\.txt  10 B  ${id}`, 'm'));
  assert.doesNotMatch(await ok(['upload-blobs'], dir), /Blob upload/); // nothing new

  rmSync(join(dir, 'blobs'), { recursive: true });
  const sync = await ok(['sync-blobs'], dir);
  assert.match(sync, new RegExp(`^Blob download 'data/data\\.txt' \\(10 B\\): ${id}$`, 'm'));
  assert.equal(readFileSync(join(dir, 'blobs/data/data.txt'), 'utf8'), 'blob data\n');
});

test('repack-stemcell writes a copy with a new name, version, cloud properties and an empty image', async () => {
  const out = join(work, 'repacked.tgz');
  const repack = await ok(['repack-stemcell', join(work, 'stemcell.tgz'), out, '--name', 'renamed', '--version', '9', '--cloud-properties', '{image_id: abc}', '--empty-image']);
  assert.match(repack, /^Repacked stemcell 'renamed\/9'/m);
  const inspected = await ok(['inspect-local-stemcell', out]);
  assert.match(inspected, /^Name {14}renamed$/m);
  assert.match(inspected, /^Version {11}9$/m);
  const root = join(work, 'repacked');
  mkdirSync(root);
  await tar.x({ file: out, cwd: root });
  assert.equal(readFileSync(join(root, 'image'), 'utf8'), '');
  assert.match(readFileSync(join(root, 'stemcell.MF'), 'utf8'), /^cloud_properties:\n {2}image_id: abc$/m);
  assert.match(readFileSync(join(root, 'stemcell.MF'), 'utf8'), /^sha1: da39a3ee5e6b4b0d3255bfef95601890afd80709$/m);
});

test('create-release --final and finalize-release print the final release and record it in releases/', async () => {
  const dir = join(work, 'finals');
  mkdirSync(dir);
  await ok(['init-release'], dir);
  writeFileSync(join(dir, 'config/final.yml'), `---\nname: finals\nblobstore:\n  provider: local\n  options:\n    blobstore_path: ${join(work, 'finals-store')}\n`);
  await ok(['generate-job', 'worker'], dir);
  await ok(['create-release', '--tarball', join(work, 'finals-dev.tgz')], dir);
  const finalized = await ok(['finalize-release', join(work, 'finals-dev.tgz'), '--version', '3'], dir);
  assert.match(finalized, /^Version\s+3$/m);
  assert.match(finalized, new RegExp(`^Manifest\\s+${join(dir, 'releases/finals/finals-3.yml')}$`, 'm'));
  assert.match(finalized, /^worker\/[0-9a-f]{40}\s+[0-9a-f]{40}$/m);
  const next = await ok(['create-release', '--final'], dir);
  assert.match(next, /^Version\s+4$/m);
  assert.match(next, new RegExp(`^Tarball\\s+${join(dir, 'releases/finals/finals-4.tgz')}$`, 'm'));
  assert.equal(readdirSync(join(work, 'finals-store')).length, 1, 'the job was uploaded once');
  const again = await capstan(['finalize-release', join(work, 'finals-dev.tgz'), '--version', '4'], dir);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /Release 'finals' version '4' already exists/);
  assert.match(await ok(['create-release'], dir), /^Version\s+4\+dev\.1$/m);
});
