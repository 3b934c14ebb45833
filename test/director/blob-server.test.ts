// The embedded blob server agents use: DAV-style PUT/GET/HEAD/DELETE over HTTPS with basic auth.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../src/common/logging.js';
import { startBlobServer, type BlobServer } from '../../src/blobstore/dav-server.js';
import { LocalBlobstore } from '../../src/blobstore/local.js';
import { BlobNotFound } from '../../src/blobstore/blobstore.js';
import { BLOB_USER, certificate, httpsCall, makeTempDir, type RequestOptions } from './helpers.js';

let server: BlobServer;
let temp: ReturnType<typeof makeTempDir>;
const auth = { name: BLOB_USER.user, password: BLOB_USER.password };
const call = (method: string, path: string, options: RequestOptions = {}) => httpsCall(server.port, method, path, { auth, ...options });

before(async () => {
  temp = makeTempDir('blob-server');
  server = await startBlobServer({
    dir: join(temp.dir, 'blobs'),
    bind: '127.0.0.1',
    port: 0,
    ...BLOB_USER,
    tls: certificate(),
    log: createLogger('test-blobs', undefined, 'silent'),
  });
});
after(async () => {
  await server.close();
  temp.remove();
});

test('PUT then GET, HEAD and DELETE a blob, with and without the two-character prefix', async () => {
  const body = Buffer.from('compiled package bytes\n'.repeat(1000));
  assert.equal((await call('PUT', '/ab/blob-1', { body })).status, 201);
  assert.deepEqual(readFileSync(join(temp.dir, 'blobs', 'blob-1')), body);

  const got = await call('GET', '/blob-1');
  assert.equal(got.status, 200);
  assert.deepEqual(got.body, body);
  assert.deepEqual((await call('GET', '/ab/blob-1')).body, body);

  const head = await call('HEAD', '/blob-1');
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], String(body.length));

  assert.equal((await call('PUT', '/blob-1', { body: 'replaced' })).status, 204);
  assert.equal((await call('GET', '/blob-1')).text, 'replaced');

  assert.equal((await call('DELETE', '/blob-1')).status, 204);
  assert.equal((await call('GET', '/blob-1')).status, 404);
  assert.equal((await call('HEAD', '/blob-1')).status, 404);
  assert.equal((await call('DELETE', '/blob-1')).status, 404);
});

test('requests without the right credentials are refused', async () => {
  assert.equal((await call('GET', '/anything', { auth: null })).status, 401);
  assert.equal((await call('PUT', '/x', { auth: { name: auth.name, password: 'wrong' }, body: 'x' })).status, 401);
});

test('ids that could leave the blob directory are rejected', async () => {
  for (const path of ['/..%2Fescape', '/%2E%2E', '/ab/..%2Fetc', '/zz-not-hex/id', '/.hidden']) {
    const res = await call('PUT', path, { body: 'x' });
    assert.ok(res.status === 400 || res.status === 404, `${path}: ${res.status}`);
  }
  assert.equal((await call('GET', '/a/b/c')).status, 404);
});

test('the local blobstore the director writes through is what the server serves', async () => {
  const store = new LocalBlobstore(join(temp.dir, 'blobs'));
  const source = join(temp.dir, 'source.txt');
  writeFileSync(source, 'job archive');
  const id = await store.put(source);
  assert.match(id, /^[0-9a-f-]{36}$/);
  assert.equal(await store.exists(id), true);
  assert.equal((await call('GET', `/${id}`)).text, 'job archive');
  await store.delete(id);
  assert.equal(await store.exists(id), false);
  await assert.rejects(store.get(id, join(temp.dir, 'out')), BlobNotFound);
  await assert.rejects(store.getStream(id), BlobNotFound);
  assert.throws(() => store.pathFor('../etc/passwd'), /Invalid blob id/);
});
