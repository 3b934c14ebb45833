// deploy uploads the manifest's releases that carry a `url` before deploying (bosh v7): a file://
// tarball is sent by the CLI, an http URL is fetched by the director (POST /releases {location, sha1}),
// `version: create` with a file:// release directory creates a dev release first; releases the
// director already has are not uploaded again. Against a real director (SQLite, task worker).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createReadStream, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ADMIN, certificate, makeTempDir, startTestDirector, type TestDirector } from '../director/helpers.js';
import { createRelease } from '../../src/release/index.js';
import { fileDigest } from '../../src/common/digest.js';
import { makeReleaseDir } from '../release/helpers/fixtures.js';

const BIN = resolve(import.meta.dirname, '../../bin/capstan');
let temp: ReturnType<typeof makeTempDir>;
let director: TestDirector;
let files: Server;
let filesUrl: string;
const fetched: string[] = [];

before(async () => {
  temp = makeTempDir('capstan-deploy-releases');
  director = await startTestDirector(temp.dir);
  writeFileSync(join(temp.dir, 'ca.pem'), certificate().cert);
  // a loopback web server for release tarballs, recording what the director downloads
  files = createServer((req, res) => {
    fetched.push(req.url ?? '');
    const stream = createReadStream(join(temp.dir, 'www', req.url ?? ''));
    stream.on('error', () => res.writeHead(404).end());
    stream.pipe(res);
  });
  await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
  filesUrl = `http://127.0.0.1:${(files.address() as { port: number }).port}`;
});
after(async () => {
  files?.close();
  await director?.close();
  temp?.remove();
});

function capstan(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const env = {
      PATH: process.env.PATH,
      CAPSTAN_HOME: join(temp.dir, 'home'),
      BOSH_ENVIRONMENT: `https://127.0.0.1:${director.port}`,
      BOSH_CA_CERT: join(temp.dir, 'ca.pem'),
      BOSH_CLIENT: ADMIN.name,
      BOSH_CLIENT_SECRET: ADMIN.password,
    };
    execFile(BIN, args, { env }, (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

async function releaseVersions(): Promise<string[]> {
  const releases = (await director.request('GET', '/releases')).json<Array<{ name: string; release_versions: Array<{ version: string }> }>>();
  return releases.flatMap((r) => r.release_versions.map((v) => `${r.name}/${v.version}`)).sort();
}

function manifest(releases: string): string {
  const path = join(temp.dir, `manifest-${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(path, `name: web\nreleases:\n${releases}\nstemcells: []\ninstance_groups: []\nupdate: {canaries: 1, max_in_flight: 1, canary_watch_time: 1000, update_watch_time: 1000}\n`);
  return path;
}

test('deploy uploads file:// and http releases it lacks, creates `version: create` ones, and skips what the director has', async () => {
  const rel = join(temp.dir, 'demo-release');
  await makeReleaseDir(rel);
  const cache_dir = join(temp.dir, 'cache');
  const fileRelease = await createRelease(rel, { cache_dir, name: 'from-file', tarball: join(temp.dir, 'from-file.tgz') });
  await createRelease(rel, { cache_dir, name: 'from-web', tarball: join(temp.dir, 'www', 'from-web.tgz') });
  const webSha1 = await fileDigest(join(temp.dir, 'www', 'from-web.tgz'));

  const path = manifest(
    [
      `- name: from-file\n  version: ${fileRelease.manifest.version}\n  url: ${pathToFileURL(fileRelease.tarballPath).href}`,
      `- name: from-web\n  version: 0+dev.1\n  url: ${filesUrl}/from-web.tgz\n  sha1: ${webSha1}`,
      `- name: from-dir\n  version: create\n  url: ${pathToFileURL(rel).href}`,
    ].join('\n'),
  );
  const first = await capstan(['-n', '-d', 'web', 'deploy', path]);
  assert.match(first.stdout, /Task \d+ \| .*Downloading remote release/s, first.stdout + first.stderr);
  assert.match(first.stdout, /Created release 'from-dir\/0\+dev\.\d{10}'/);
  const versions = await releaseVersions();
  assert.equal(versions.length, 3, versions.join(', '));
  assert.ok(versions.includes('from-file/0+dev.1') && versions.includes('from-web/0+dev.1'), versions.join(', '));
  assert.match(versions.find((v) => v.startsWith('from-dir/')) ?? '', /^from-dir\/0\+dev\.\d{10}$/);
  assert.deepEqual(fetched, ['/from-web.tgz']);
  // the deploy itself was sent, with the created version in place of `create`
  const tasks = (await director.request('GET', '/tasks?verbose=2&limit=20')).json<Array<{ id: number; description: string }>>();
  const deploy = tasks.find((t) => t.description === 'create deployment');
  assert.ok(deploy, JSON.stringify(tasks));

  // a second deploy: nothing to upload (only `version: create` makes a new release, as bosh)
  const again = manifest(
    [
      `- name: from-file\n  version: ${fileRelease.manifest.version}\n  url: ${pathToFileURL(fileRelease.tarballPath).href}`,
      `- name: from-web\n  version: 0+dev.1\n  url: ${filesUrl}/from-web.tgz\n  sha1: ${webSha1}`,
    ].join('\n'),
  );
  const second = await capstan(['-n', '-d', 'web', 'deploy', again]);
  assert.doesNotMatch(second.stdout, /Uploading release|Downloading remote release/);
  assert.deepEqual(fetched, ['/from-web.tgz']);

  // a wrong digest fails the director's upload task, and the deploy stops there
  await createRelease(rel, { cache_dir, name: 'tampered', tarball: join(temp.dir, 'www', 'tampered.tgz') });
  const bad = await capstan(['-n', '-d', 'web', 'deploy', manifest(`- name: tampered\n  version: 0+dev.1\n  url: ${filesUrl}/tampered.tgz\n  sha1: ${'f'.repeat(40)}`)]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr + bad.stdout, /Verifying remote release/);
});
