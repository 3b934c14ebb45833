// Bad input at the director's door: bodies over the limit (413 with the limit named), bodies that
// are not JSON (400), YAML anchor bombs (400, refused quickly), and a release tarball carrying a
// device file (the upload task fails with a clear error and leaves no release behind).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ADMIN, certificate, makeConfig, makeTempDir, startTestDirector, taskIdFrom, type TestDirector } from '../director/helpers.js';

const LIMIT = 64 * 1024;
let director: TestDirector;
let temp: ReturnType<typeof makeTempDir>;

before(async () => {
  temp = makeTempDir('security-bad-input');
  const config = makeConfig(temp.dir);
  config.max_body_bytes = LIMIT;
  director = await startTestDirector(temp.dir, { config });
});
after(async () => {
  await director.close();
  temp.remove();
});

const yaml = (body: string | Buffer) => ({ headers: { 'content-type': 'text/yaml' }, body });
const json = (body: string) => ({ headers: { 'content-type': 'application/json' }, body });

function anchorBomb(levels = 9, width = 10): string {
  let text = `l0: &l0 [${Array(width).fill('"lol"').join(', ')}]\n`;
  for (let i = 1; i <= levels; i++) text += `l${i}: &l${i} [${Array(width).fill(`*l${i - 1}`).join(', ')}]\n`;
  return `name: bomb\n${text}`;
}

/** A body sent in chunks without Content-Length, so the server only learns its size while reading. */
function chunkedPost(path: string, chunks: number, chunkSize: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1', port: director.port, method: 'POST', path, ca: certificate().cert,
        headers: { 'content-type': 'text/yaml', 'transfer-encoding': 'chunked', authorization: `Basic ${Buffer.from(`${ADMIN.name}:${ADMIN.password}`).toString('base64')}` },
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    const write = (i: number) => {
      if (i >= chunks || req.destroyed) return req.end();
      req.write(Buffer.alloc(chunkSize, 'a'), () => write(i + 1));
    };
    write(0);
  });
}

test('YAML and JSON bodies over the limit are refused with 413 naming the limit', async () => {
  const big = `name: web\nfiller: "${'x'.repeat(LIMIT)}"\n`;
  for (const [path, options] of [['/deployments', yaml(big)], ['/cloud_configs', yaml(big)], ['/configs', json(JSON.stringify({ type: 'cloud', name: 'x', content: big }))]] as const) {
    const res = await director.request('POST', path, options);
    assert.equal(res.status, 413, path);
    assert.deepEqual(res.json(), { code: 40000, description: `Request body is too large: the limit is ${LIMIT} bytes` }, path);
  }
  const chunked = await chunkedPost('/deployments', 8, 16 * 1024).catch((err: Error) => ({ status: -1, text: err.message }));
  assert.ok(chunked.status === 413 || /ECONNRESET|EPIPE|socket hang up/.test(chunked.text), `chunked: ${chunked.status} ${chunked.text}`);
  assert.deepEqual((await director.request('GET', '/deployments')).json(), [], 'nothing was created');
});

test('without credentials a big body is refused before it is read', async () => {
  const res = await director.request('POST', '/deployments', { ...yaml('x'.repeat(LIMIT / 2)), auth: null });
  assert.equal(res.status, 401);
  assert.equal(res.text, "Not authorized: '/deployments'\n");
});

test('JSON that does not parse is a 400', async () => {
  const res = await director.request('POST', '/configs', json('{"type": "cloud", '));
  assert.equal(res.status, 400);
  assert.equal(res.json().code, 40000);
});

test('YAML anchor bombs are refused with a 400 instead of being expanded', async () => {
  const bomb = anchorBomb();
  const deploy = await director.request('POST', '/deployments', yaml(bomb));
  assert.equal(deploy.status, 400);
  assert.equal(deploy.json().code, 440001);
  assert.match(deploy.json().description, /alias/i);
  for (const path of ['/cloud_configs', '/runtime_configs']) {
    const res = await director.request('POST', path, yaml(bomb));
    assert.ok(res.status === 400, `${path}: ${res.status} ${res.text}`);
  }
  assert.deepEqual((await director.request('GET', '/deployments')).json(), []);
});

/** A gzipped ustar archive with one directory and one character device. */
function tarballWithDevice(): Buffer {
  const header = (name: string, type: string) => {
    const h = Buffer.alloc(512);
    const put = (v: string, o: number, l: number) => h.write(v, o, l, 'utf8');
    const octal = (n: number, l: number) => n.toString(8).padStart(l - 1, '0');
    put(name, 0, 100);
    put(octal(0o644, 8), 100, 8);
    put(octal(0, 8), 108, 8);
    put(octal(0, 8), 116, 8);
    put(octal(0, 12), 124, 12);
    put(octal(0, 12), 136, 12);
    h.fill(' ', 148, 156);
    put(type, 156, 1);
    put('ustar\u000000', 257, 8);
    let sum = 0;
    for (const b of h) sum += b;
    put(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8);
    return h;
  };
  return gzipSync(Buffer.concat([header('jobs/', '5'), header('jobs/null', '3'), Buffer.alloc(1024)]));
}

test('a release tarball with a device file fails its upload task clearly and leaves nothing behind', async () => {
  const id = taskIdFrom(await director.request('POST', '/releases', { headers: { 'content-type': 'application/x-compressed' }, body: tarballWithDevice() }));
  const task = await director.waitForTask(id);
  assert.equal(task.state, 'error');
  assert.match(task.result ?? '', /entry 'jobs\/null' is a device file/);
  assert.deepEqual((await director.request('GET', '/releases')).json(), []);
  const tmp = join(director.config.base_dir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  assert.deepEqual(readdirSync(tmp), [], 'the upload and its extraction were cleaned up');
});
