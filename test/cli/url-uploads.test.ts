// Uploads by URL through bin/capstan against a real director (SQLite, task worker, in-memory CPI):
// upload-stemcell / upload-release with http URLs the director downloads from a loopback web server
// (a wrong digest fails with the director's error) or file:// URLs the CLI sends itself, and
// update-runtime-config uploading the runtime config's releases with a `url` first (bosh v7;
// --fix-releases uploads them again).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createReadStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
  temp = makeTempDir('capstan-url-uploads');
  director = await startTestDirector(temp.dir);
  writeFileSync(join(temp.dir, 'ca.pem'), certificate().cert);
  mkdirSync(join(temp.dir, 'www'));
  // a loopback web server for tarballs, recording what the director downloads
  files = createServer((req, res) => {
    fetched.push(req.url ?? '');
    const stream = createReadStream(join(temp.dir, 'www', (req.url ?? '').replace(/\.\./g, '')));
    stream.on('error', () => res.writeHead(404).end());
    stream.pipe(res);
  });
  await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
  filesUrl = `http://127.0.0.1:${(files.address() as { port: number }).port}`;
});
after(async () => {
  await new Promise((r) => files?.close(r));
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

/** A small stemcell tarball at <temp>/www/<name>-<version>.tgz. */
function stemcellTarball(name: string, version: string): string {
  const dir = join(temp.dir, `stemcell-${name}-${version}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'image'), `image ${name} ${version}`);
  const sha1 = createHash('sha1').update(readFileSync(join(dir, 'image'))).digest('hex');
  writeFileSync(join(dir, 'stemcell.MF'), `name: ${name}\nversion: "${version}"\noperating_system: debian-bookworm\nsha1: ${sha1}\n`);
  const out = join(temp.dir, 'www', `${name}-${version}.tgz`);
  execFileSync('tar', ['czf', out, '-C', dir, 'stemcell.MF', 'image']);
  return out;
}

async function stemcells(): Promise<string[]> {
  return (await director.request('GET', '/stemcells')).json<Array<{ name: string; version: string }>>().map((s) => `${s.name}/${s.version}`).sort();
}

async function releaseVersions(): Promise<string[]> {
  const releases = (await director.request('GET', '/releases')).json<Array<{ name: string; release_versions: Array<{ version: string }> }>>();
  return releases.flatMap((r) => r.release_versions.map((v) => `${r.name}/${v.version}`)).sort();
}

test('upload-stemcell URL: a wrong sha1 fails with the director error; the right one uploads; --name/--version skip a known one', async () => {
  const path = stemcellTarball('web-stemcell', '1');
  const url = `${filesUrl}/web-stemcell-1.tgz`;

  const bad = await capstan(['upload-stemcell', url, '--sha1', 'f'.repeat(40)]);
  assert.equal(bad.code, 1, bad.stdout + bad.stderr);
  assert.match(bad.stdout + bad.stderr, /Verifying remote stemcell from 'http:\/\/127\.0\.0\.1:\d+\/web-stemcell-1\.tgz' failed: Expected stream to have digest 'f{40}' but was '[0-9a-f]{40}'/);
  assert.deepEqual(await stemcells(), []);

  const good = await capstan(['upload-stemcell', url, '--sha1', `sha256:${await fileDigest(path, 'sha256')}`]);
  assert.equal(good.code, 0, good.stdout + good.stderr);
  assert.match(good.stdout, /Downloading remote stemcell/);
  assert.deepEqual(await stemcells(), ['web-stemcell/1']);

  const before = fetched.length;
  const skipped = await capstan(['upload-stemcell', url, '--name', 'web-stemcell', '--version', '1']);
  assert.equal(skipped.code, 0, skipped.stdout + skipped.stderr);
  assert.match(skipped.stdout, /^Stemcell 'web-stemcell\/1' already exists\.$/m);
  assert.equal(fetched.length, before);
});

test('upload-stemcell and upload-release with file:// URLs send the local tarball', async () => {
  const stemcell = stemcellTarball('file-stemcell', '2');
  const up = await capstan(['upload-stemcell', pathToFileURL(stemcell).href]);
  assert.equal(up.code, 0, up.stdout + up.stderr);
  assert.deepEqual(await stemcells(), ['file-stemcell/2', 'web-stemcell/1']);

  const rel = join(temp.dir, 'file-release');
  await makeReleaseDir(rel);
  const created = await createRelease(rel, { cache_dir: join(temp.dir, 'cache'), name: 'from-file', tarball: join(temp.dir, 'from-file.tgz') });
  const upRel = await capstan(['upload-release', pathToFileURL(created.tarballPath).href]);
  assert.equal(upRel.code, 0, upRel.stdout + upRel.stderr);
  assert.ok((await releaseVersions()).includes('from-file/0+dev.1'));
  const missing = await capstan(['upload-release', pathToFileURL(join(temp.dir, 'nope.tgz')).href]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /Release '.*nope\.tgz' does not exist/);
});

test('update-runtime-config uploads the releases with a url the director lacks before updating', async () => {
  const rel = join(temp.dir, 'addon-release');
  await makeReleaseDir(rel);
  const cache_dir = join(temp.dir, 'cache');
  const fromDisk = await createRelease(rel, { cache_dir, name: 'addon-disk', tarball: join(temp.dir, 'addon-disk.tgz') });
  await createRelease(rel, { cache_dir, name: 'addon-web', tarball: join(temp.dir, 'www', 'addon-web.tgz') });
  const webSha1 = await fileDigest(join(temp.dir, 'www', 'addon-web.tgz'));
  const config = join(temp.dir, 'runtime.yml');
  writeFileSync(
    config,
    [
      'releases:',
      `- name: addon-disk\n  version: ${fromDisk.manifest.version}\n  url: ${pathToFileURL(fromDisk.tarballPath).href}`,
      `- name: addon-web\n  version: 0+dev.1\n  url: ${filesUrl}/addon-web.tgz\n  sha1: ${webSha1}`,
      'addons:',
      '- name: monitoring\n  jobs: []',
      '',
    ].join('\n'),
  );
  const first = await capstan(['-n', 'update-runtime-config', config]);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  assert.match(first.stdout, /Downloading remote release/);
  const versions = await releaseVersions();
  assert.ok(versions.includes('addon-disk/0+dev.1') && versions.includes('addon-web/0+dev.1'), versions.join(', '));
  const stored = (await director.request('GET', '/configs?type=runtime&latest=true')).json<Array<{ content: string }>>();
  assert.match(stored[0]?.content ?? '', /name: monitoring/);

  // again: the director has both, nothing is uploaded or downloaded
  const before = fetched.length;
  const second = await capstan(['-n', 'update-runtime-config', config]);
  assert.equal(second.code, 0, second.stdout + second.stderr);
  assert.doesNotMatch(second.stdout, /Uploading release|Downloading remote release/);
  assert.equal(fetched.length, before);

  // --fix-releases uploads them again (POST /releases?fix=true)
  const fixed = await capstan(['-n', 'update-runtime-config', '--fix-releases', config]);
  assert.equal(fixed.code, 0, fixed.stdout + fixed.stderr);
  assert.match(fixed.stdout, /Downloading remote release/);
  assert.equal(fetched.length, before + 1);
});
