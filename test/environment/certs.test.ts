import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCertificates } from '../../src/environment/certs.js';
import { environmentPaths } from '../../src/environment/paths.js';

const home = mkdtempSync(join(tmpdir(), 'capstan-certs-'));
after(() => rmSync(home, { recursive: true, force: true }));
const paths = environmentPaths(home);
const created = ensureCertificates(paths, { natsIp: '10.245.0.1', directorIps: ['127.0.0.1', '10.245.0.1'] });
const cert = (path: string) => new X509Certificate(readFileSync(path));
const ca = cert(paths.certs.ca);

test('creates the CA, director, NATS server, director and health monitor NATS client certificates', () => {
  assert.deepEqual(created, ['ca', 'director', 'nats', 'director-client', 'hm-client']);
  assert.match(cert(paths.certs.monitorClient).subject, /CN=default\.hm\.bosh-internal/);
  assert.ok(ca.ca);
});

test('every certificate chains to the CA', () => {
  for (const path of [paths.certs.director, paths.certs.nats, paths.certs.directorClient, paths.certs.monitorClient]) {
    const c = cert(path);
    assert.ok(c.checkIssued(ca), `${path} issued by the CA`);
    assert.ok(c.verify(ca.publicKey), `${path} signed by the CA key`);
    assert.equal(c.ca, false);
  }
});

test('director TLS certificate: SANs 127.0.0.1, localhost, 10.245.0.1', () => {
  const san = cert(paths.certs.director).subjectAltName ?? '';
  for (const name of ['IP Address:127.0.0.1', 'DNS:localhost', 'IP Address:10.245.0.1']) assert.ok(san.includes(name), san);
});

test('NATS server certificate: CN default.nats.bosh-internal with an IP SAN for its address', () => {
  const nats = cert(paths.certs.nats);
  assert.match(nats.subject, /CN=default\.nats\.bosh-internal/);
  assert.ok((nats.subjectAltName ?? '').includes('IP Address:10.245.0.1'), nats.subjectAltName);
  assert.ok(nats.checkIP('10.245.0.1'));
});

test('director NATS client certificate: CN default.director.bosh-internal, for client auth', () => {
  const client = cert(paths.certs.directorClient);
  assert.match(client.subject, /CN=default\.director\.bosh-internal/);
  assert.ok(client.keyUsage?.includes('1.3.6.1.5.5.7.3.2'), 'clientAuth extended key usage');
});

test('private keys are 0600 and match their certificates', () => {
  for (const [certPath, keyPath] of [
    [paths.certs.ca, paths.certs.caKey],
    [paths.certs.director, paths.certs.directorKey],
    [paths.certs.nats, paths.certs.natsKey],
    [paths.certs.directorClient, paths.certs.directorClientKey],
  ]) {
    assert.equal(statSync(keyPath).mode & 0o777, 0o600, keyPath);
    assert.ok(cert(certPath).checkPrivateKey(createPrivateKey(readFileSync(keyPath))), `${keyPath} matches`);
  }
});

test('a second run keeps the existing certificates', () => {
  const before = readFileSync(paths.certs.nats, 'utf8');
  assert.deepEqual(ensureCertificates(paths, { natsIp: '10.245.0.1', directorIps: ['127.0.0.1'] }), []);
  assert.equal(readFileSync(paths.certs.nats, 'utf8'), before);
});
