// --vars-store for interpolate and deploy: declared variables no vars source gives are generated
// (password, certificate signed by a CA variable, ssh, rsa) into the store file, stable across runs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { event, PASSWORD, startFakeDirector, T0, USER, type FakeDirector } from './fake-director.js';

const BIN = resolve(import.meta.dirname, '../../bin/capstan');
let fake: FakeDirector;
let dir: string;

before(async () => {
  fake = await startFakeDirector();
  dir = mkdtempSync(join(tmpdir(), 'capstan-vars-store-'));
});
after(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

function capstan(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const env = { PATH: process.env.PATH, CAPSTAN_HOME: join(dir, 'home'), BOSH_ENVIRONMENT: fake.url, BOSH_CA_CERT: fake.caPath, BOSH_CLIENT: USER, BOSH_CLIENT_SECRET: PASSWORD };
    execFile(BIN, args, { env }, (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

const MANIFEST = `name: web
instance_groups:
- name: web
  jobs:
  - name: server
    properties:
      admin_password: ((admin_password))
      tls: ((web_tls))
      ssh_key: ((deploy_ssh.public_key))
      signing_key: ((signing.private_key))
      given: ((given))
variables:
- name: admin_password
  type: password
- name: web_tls
  type: certificate
  options: {ca: web_ca, common_name: web.example.com, alternative_names: [127.0.0.1]}
- name: web_ca
  type: certificate
  options: {is_ca: true, common_name: Web CA}
- name: deploy_ssh
  type: ssh
- name: signing
  type: rsa
- name: given
  type: password
`;

test('interpolate --vars-store generates the missing declared variables once; later runs reuse them', async () => {
  const manifest = join(dir, 'manifest.yml');
  const store = join(dir, 'creds.yml');
  writeFileSync(manifest, MANIFEST);
  const first = await capstan(['interpolate', manifest, '--vars-store', store, '-v', 'given=from-flag']);
  assert.equal(first.code, 0, first.stderr);
  const creds = parse(readFileSync(store, 'utf8'));
  assert.deepEqual(Object.keys(creds).sort(), ['admin_password', 'deploy_ssh', 'signing', 'web_ca', 'web_tls'], 'a variable given with -v is not stored');
  assert.equal(statSync(store).mode & 0o777, 0o600);
  assert.match(creds.admin_password, /^[a-z0-9]{20}$/);
  assert.match(creds.deploy_ssh.public_key, /^ssh-rsa /);
  assert.match(creds.signing.private_key, /BEGIN RSA PRIVATE KEY/);
  const ca = new X509Certificate(creds.web_ca.certificate);
  const cert = new X509Certificate(creds.web_tls.certificate);
  assert.ok(cert.verify(ca.publicKey), 'the certificate is signed by the CA variable');
  assert.equal(creds.web_tls.ca, creds.web_ca.certificate);
  assert.match(cert.subject, /CN=web\.example\.com/);

  const out = parse(first.stdout);
  const props = out.instance_groups[0].jobs[0].properties;
  assert.equal(props.admin_password, creds.admin_password);
  assert.equal(props.tls.certificate, creds.web_tls.certificate);
  assert.equal(props.given, 'from-flag');

  const second = await capstan(['int', manifest, '--vars-store', store, '-v', 'given=again', '--path', '/instance_groups/0/jobs/0/properties/admin_password']);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.stdout.trim(), creds.admin_password);
  assert.deepEqual(parse(readFileSync(store, 'utf8')), creds, 'nothing regenerated');
});

test('deploy --vars-store sends the manifest with generated values and keeps them in the store', async () => {
  const manifest = join(dir, 'deploy.yml');
  const store = join(dir, 'deploy-creds.yml');
  writeFileSync(manifest, 'name: web\nproperties:\n  password: ((db_password))\nvariables:\n- name: db_password\n  type: password\n');
  fake.route('POST', '/deployments', {
    id: 41,
    states: ['processing', 'done'],
    events: [event({ time: T0, stage: 'Preparing deployment', tags: [], total: 1, task: 'Preparing deployment', index: 1, state: 'finished', progress: 100 })],
  });
  const { code, stderr } = await capstan(['-n', 'deploy', manifest, '--vars-store', store]);
  assert.equal(code, 0, stderr);
  const password = parse(readFileSync(store, 'utf8')).db_password;
  assert.match(password, /^[a-z0-9]{20}$/);
  const sent = fake.requests.filter((r) => r.method === 'POST' && /^\/deployments(\?|$)/.test(r.url)).pop();
  assert.match(sent?.body ?? '', new RegExp(`password: ${password}\n`));
});
