// Variables at rest: the key file is created once (0600) and reused; values round-trip through
// AES-256-GCM and fail to decrypt with another key; generated values have the documented shapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { decryptValue, encryptValue, generateValue, loadVariablesKey } from '../../../src/director/deploy/variables.js';
import { serialBatches, skipDrainMatcher } from '../../../src/director/deploy/jobs.js';

test('the key file is created when missing and reused after', () => {
  const dir = mkdtempSync(join(tmpdir(), 'capstan-varkey-'));
  try {
    const path = join(dir, 'sub', 'variables.key');
    const key = loadVariablesKey(path);
    assert.equal(key.length, 32);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(loadVariablesKey(path), key);
    const stored = encryptValue(key, { password: 's3cret' });
    assert.ok(!stored.includes('s3cret'));
    assert.deepEqual(decryptValue(key, stored), { password: 's3cret' });
    assert.throws(() => decryptValue(Buffer.alloc(32, 1), stored));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('generated ssh and rsa keys, and an unknown type', () => {
  const ssh = generateValue({ name: 'k', type: 'ssh' }, {}) as Record<string, string>;
  assert.match(ssh.public_key, /^ssh-rsa AAAA\S+$/);
  assert.match(ssh.public_key_fingerprint, /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
  assert.match(ssh.private_key, /BEGIN RSA PRIVATE KEY/);
  const rsa = generateValue({ name: 'r', type: 'rsa' }, {}) as Record<string, string>;
  assert.match(rsa.public_key, /BEGIN PUBLIC KEY/);
  const ca = generateValue({ name: 'ca', type: 'certificate', options: { is_ca: true } }, {}) as Record<string, string>;
  const caCert = forge.pki.certificateFromPem(ca.certificate);
  assert.equal(ca.ca, ca.certificate, 'a CA is its own ca');
  assert.equal((caCert.getExtension('basicConstraints') as { cA: boolean }).cA, true);
  assert.throws(() => generateValue({ name: 'c', type: 'certificate', options: { ca: 'nope' } }, {}), /names CA 'nope'/);
  assert.throws(() => generateValue({ name: 'x', type: 'value' }, {}), /cannot generate/);
});

test('--skip-drain selects all, a group, or one instance', () => {
  assert.equal(skipDrainMatcher(null)('web', 'u1'), false);
  assert.equal(skipDrainMatcher('*')('web', 'u1'), true);
  const some = skipDrainMatcher('db,web/u2');
  assert.deepEqual([some('db', 'u1'), some('web', 'u1'), some('web', 'u2')], [true, false, true]);
});

test('consecutive serial:false groups form one parallel batch', () => {
  const group = (name: string, serial?: boolean) => ({ group: { name, ...(serial === undefined ? {} : { update: { serial } }) } });
  const plan = {
    manifest: { update: { canaries: 1, max_in_flight: 1, canary_watch_time: { min: 1, max: 1 }, update_watch_time: { min: 1, max: 1 }, serial: true } },
    groups: [group('a'), group('b', false), group('c', false), group('d'), group('e', false)],
  } as unknown as Parameters<typeof serialBatches>[0];
  assert.deepEqual(serialBatches(plan).map((b) => b.map((g) => g.group.name)), [['a'], ['b', 'c'], ['d'], ['e']]);
});

test('a placeholder without a declared variable fails naming it and its line', async () => {
  const { interpolatedManifest } = await import('../../../src/director/deploy/variables.js');
  const text = 'name: app\nreleases: []\nstemcells: []\nupdate: {canaries: 1, max_in_flight: 1, canary_watch_time: 1, update_watch_time: 1}\ninstance_groups: []\nproperties:\n  a: ((undeclared.key))\n';
  await assert.rejects(interpolatedManifest({} as never, 'app', text), {
    message: "deployment manifest: Failed to find variables 'undeclared' (line 7): declare them in the manifest's 'variables' section (the director has no config server)",
  });
});
