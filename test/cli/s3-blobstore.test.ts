// A release whose config/final.yml names an s3 blobstore (credentials in config/private.yml), against
// a local S3-compatible server (s3rver, npm) on loopback: upload-blobs, sync-blobs, create-release
// --final and a build from a fresh clone, through bin/capstan.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import S3rver from 's3rver';

const BIN = resolve(import.meta.dirname, '../../bin/capstan');
let work: string;
let server: S3rver;
let endpoint: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'capstan-s3-'));
  server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: join(work, 's3'), configureBuckets: [{ name: 'release-blobs', configs: [] }] });
  const { port } = (await server.run()) as { port: number };
  endpoint = `http://127.0.0.1:${port}`;
});
after(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

function capstan(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(BIN, args, { cwd, env: { PATH: process.env.PATH, CAPSTAN_HOME: join(work, 'home') } }, (err, stdout, stderr) =>
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: stdout.replace(/ +$/gm, ''), stderr }),
    );
  });
}

async function ok(args: string[], cwd: string): Promise<string> {
  const { code, stdout, stderr } = await capstan(args, cwd);
  assert.equal(code, 0, `capstan ${args.join(' ')}: ${stderr}`);
  return stdout;
}

/** The objects in the bucket (s3rver keeps each under <dir>/<bucket>/<key>._S3rver_object). */
function bucketKeys(): string[] {
  const dir = join(work, 's3', 'release-blobs');
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('._S3rver_object')).map((f) => f.replace(/\._S3rver_object$/, '')).sort() : [];
}

test('upload-blobs and sync-blobs with an s3 blobstore; create-release --final uploads its jobs and packages there', async () => {
  const dir = join(work, 'cloudy-release');
  mkdirSync(dir);
  await ok(['init-release'], dir);
  writeFileSync(join(dir, 'config/final.yml'), `---\nname: cloudy\nblobstore:\n  provider: s3\n  options:\n    bucket_name: release-blobs\n    region: us-east-1\n    endpoint: ${endpoint}\n`);
  writeFileSync(join(work, 'data.txt'), 'blob data\n');
  await ok(['add-blob', join(work, 'data.txt'), 'data/data.txt'], dir);

  // no credentials: the server refuses, and the CLI says so
  writeFileSync(join(dir, 'config/private.yml'), '---\nblobstore:\n  options:\n    access_key_id: NOT-A-KEY\n    secret_access_key: nope\n');
  const refused = await capstan(['upload-blobs'], dir);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /status 403 \(InvalidAccessKeyId\)/);
  assert.doesNotMatch(refused.stderr + refused.stdout, /nope/, 'the secret is never printed');

  writeFileSync(join(dir, 'config/private.yml'), '---\nblobstore:\n  options:\n    access_key_id: S3RVER\n    secret_access_key: S3RVER\n');
  const up = await ok(['upload-blobs'], dir);
  const id = /^Blob upload 'data\/data\.txt' \(10 B\): (\S+)$/m.exec(up)?.[1];
  assert.ok(id, up);
  assert.deepEqual(bucketKeys(), [id]);
  assert.match(readFileSync(join(dir, 'config/blobs.yml'), 'utf8'), new RegExp(`object_id: ${id}`));

  rmSync(join(dir, 'blobs'), { recursive: true });
  const sync = await ok(['sync-blobs'], dir);
  assert.match(sync, new RegExp(`^Blob download 'data/data\\.txt' \\(10 B\\): ${id}$`, 'm'));
  assert.equal(readFileSync(join(dir, 'blobs/data/data.txt'), 'utf8'), 'blob data\n');

  await ok(['generate-package', 'data'], dir);
  writeFileSync(join(dir, 'packages/data/spec'), '---\nname: data\nfiles: [data/data.txt]\n');
  await ok(['generate-job', 'reader'], dir);
  writeFileSync(join(dir, 'jobs/reader/spec'), '---\nname: reader\ntemplates: {}\npackages: [data]\n');
  const final = await ok(['create-release', '--final'], dir);
  assert.match(final, /^Version\s+1$/m);
  assert.match(final, new RegExp(`^Manifest\\s+${join(dir, 'releases/cloudy/cloudy-1.yml').replace(/[+.]/g, '\\$&')}$`, 'm'));
  assert.equal(bucketKeys().length, 3, 'the blob, the job and the package');
  const pkgIndex = readFileSync(join(dir, '.final_builds/packages/data/index.yml'), 'utf8');
  const blobId = /blobstore_id: (\S+)/.exec(pkgIndex)?.[1];
  assert.ok(blobId && bucketKeys().includes(blobId), pkgIndex);

  // a fresh clone (no blobs/, no .dev_builds, an empty cache) rebuilds the same final release from the bucket
  const clone = join(work, 'clone');
  cpSync(dir, clone, { recursive: true, filter: (src) => !/[\\/](blobs|\.dev_builds|dev_releases)$/.test(src) });
  rmSync(join(work, 'home'), { recursive: true, force: true });
  await ok(['sync-blobs'], clone);
  const rebuilt = await ok(['create-release', '--version', '9'], clone);
  assert.match(rebuilt, /^Version\s+9$/m);
  const digestOf = (text: string, name: string) => new RegExp(`^${name}/\\S+\\s+(\\S+)`, 'm').exec(text)?.[1];
  assert.equal(digestOf(rebuilt, 'data'), digestOf(final, 'data'));
  assert.equal(bucketKeys().length, 3, 'nothing new uploaded');
});
