// The agent's DAV blobstore client against an HTTPS server with basic auth and a private CA.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { mkdtemp, writeFile, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DavBlobstore } from '../../src/blobstore/dav-client.js';
import { BlobNotFound } from '../../src/blobstore/blobstore.js';
import { makePki } from './certs.js';

const blobs = new Map<string, Buffer>();
let server: Server;
let endpoint: string;
let ca: string;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'capstan-dav-'));
  const pki = makePki('dav');
  ca = pki.ca;
  const expected = `Basic ${Buffer.from('agent:s3cret').toString('base64')}`;
  // A minimal stand-in for the director's blob server: PUT/GET/HEAD/DELETE /<id>.
  server = createServer({ cert: pki.nats.cert, key: pki.nats.key }, (req, res) => {
    if (req.headers.authorization !== expected) return void res.writeHead(401).end();
    const id = decodeURIComponent((req.url ?? '/').slice(1));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'PUT') {
        blobs.set(id, Buffer.concat(chunks));
        return void res.writeHead(201).end();
      }
      const blob = blobs.get(id);
      if (!blob) return void res.writeHead(404).end();
      if (req.method === 'DELETE') {
        blobs.delete(id);
        return void res.writeHead(204).end();
      }
      res.writeHead(200, { 'Content-Length': blob.length });
      res.end(req.method === 'HEAD' ? undefined : blob);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
});

after(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

test('put with a new UUID, get, exists and delete', async () => {
  const store = new DavBlobstore({ endpoint, user: 'agent', password: 's3cret', tls: { cert: { ca } } });
  await writeFile(join(dir, 'in'), 'compiled package bytes');
  const id = await store.put(join(dir, 'in'));
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(blobs.get(id)?.toString(), 'compiled package bytes');
  await store.get(id, join(dir, 'out'));
  assert.equal(await readFile(join(dir, 'out'), 'utf8'), 'compiled package bytes');
  assert.equal(await store.exists(id), true);
  await store.delete(id);
  assert.equal(await store.exists(id), false);
});

test('a missing blob is BlobNotFound; wrong credentials fail with the status', async () => {
  const store = new DavBlobstore({ endpoint, user: 'agent', password: 's3cret', tls: { cert: { ca } } });
  await assert.rejects(store.get('nope', join(dir, 'x')), BlobNotFound);
  const wrong = new DavBlobstore({ endpoint, user: 'agent', password: 'wrong', tls: { cert: { ca } } });
  await writeFile(join(dir, 'in2'), 'x');
  await assert.rejects(wrong.put(join(dir, 'in2'), 'id-1'), /status 401/);
});

test('the server certificate must chain to the configured CA', async () => {
  const store = new DavBlobstore({ endpoint, user: 'agent', password: 's3cret' });
  await assert.rejects(store.exists('anything'), /certificate/i);
});
