// `capstan manifest` and the deploy diff do not show secrets: the director redacts every value
// below `properties` and `env` in POST /deployments/<d>/diff unless the caller asks `redact=false`, and in
// GET /deployments/<d> when asked `redact=true` (what `capstan manifest` sends unless --no-redact).
// Against a real director, through bin/capstan.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TaskJob } from '../../src/director/context.js';
import { ADMIN, makeTempDir, startTestDirector, type TestDirector } from '../director/helpers.js';

const BIN = resolve(import.meta.dirname, '../../bin/capstan');
const SECRET = 'hunter2-admin-password-7f3a';
const NEW_SECRET = 'rotated-admin-password-91c2';
const VM_PASSWORD = '$6$crypted$vm-password-hash';

const manifest = (instances: number, secret: string) => `name: web
releases:
- name: nginx
  version: "1"
instance_groups:
- name: web
  instances: ${instances}
  env:
    bosh:
      password: "${VM_PASSWORD}"
  jobs:
  - name: nginx
    release: nginx
    properties:
      admin_password: ${secret}
      port: 8080
properties:
  api_token: ${secret}-token
`;

let temp: ReturnType<typeof makeTempDir>;
let director: TestDirector;

// the deploy task only records the manifest: what is shown of it is the point here
const jobs: Record<string, TaskJob> = {
  update_deployment: async (d, _task, payload) => {
    const p = payload as { deployment_name: string; manifest_text: string };
    await d.db.updateTable('deployments').set({ manifest_text: p.manifest_text }).where('name', '=', p.deployment_name).execute();
    return `/deployments/${p.deployment_name}`;
  },
};

before(async () => {
  temp = makeTempDir('manifest-redaction');
  director = await startTestDirector(temp.dir, { jobs });
});
after(async () => {
  await director?.close();
  temp?.remove();
});

function capstan(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      BIN,
      args,
      {
        env: {
          PATH: process.env.PATH,
          CAPSTAN_HOME: join(temp.dir, 'cli-home'),
          BOSH_ENVIRONMENT: `https://127.0.0.1:${director.port}`,
          BOSH_CA_CERT: director.config.tls.certificate_path,
          BOSH_CLIENT: ADMIN.name,
          BOSH_CLIENT_SECRET: ADMIN.password,
          NO_COLOR: '1',
        },
      },
      (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const diff = (name: string, body: string, query = '') =>
  director.request('POST', `/deployments/${name}/diff${query}`, { headers: { 'content-type': 'text/yaml' }, body });

test('the diff of a new deployment shows every key, and no secret value', async () => {
  const res = await diff('web', manifest(1, SECRET));
  assert.equal(res.status, 200);
  const body = res.json<{ context: { cloud_config_ids: number[]; runtime_config_ids: number[] }; diff: Array<[string, string | null]> }>();
  assert.deepEqual(body.context, { cloud_config_ids: [], runtime_config_ids: [] });
  assert.ok(body.diff.length > 10 && body.diff.every(([, state]) => state === 'added'), res.text);
  const lines = body.diff.map(([line]) => line);
  assert.ok(lines.includes('      admin_password: <redacted>'), lines.join('\n'));
  assert.ok(lines.includes('  instances: 1'), 'non-secret values stay visible');
  assert.ok(lines.includes('      password: <redacted>'), 'env.bosh.password is redacted');
  for (const secret of [SECRET, VM_PASSWORD, '8080']) assert.ok(!res.text.includes(secret), `${secret} leaked: ${res.text}`);
});

test('capstan deploy shows the redacted diff, and --no-redact the values; capstan manifest likewise', async () => {
  const first = join(temp.dir, 'first.yml');
  writeFileSync(first, manifest(1, SECRET));
  const deployed = await capstan(['-n', '-d', 'web', 'deploy', first]);
  assert.equal(deployed.code, 0, deployed.stderr + deployed.stdout);
  assert.match(deployed.stdout, /\+ {7}admin_password: <redacted>/);
  assert.ok(!deployed.stdout.includes(SECRET) && !deployed.stdout.includes(VM_PASSWORD), deployed.stdout);

  const shown = await capstan(['-d', 'web', 'manifest']);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /admin_password: "<redacted>"/);
  assert.match(shown.stdout, /instances: 1/);
  assert.ok(!shown.stdout.includes(SECRET) && !shown.stdout.includes(VM_PASSWORD), shown.stdout);
  const raw = await capstan(['-d', 'web', 'manifest', '--no-redact']);
  assert.ok(raw.stdout.includes(manifest(1, SECRET)), `unredacted, the manifest is exactly what was deployed: ${raw.stdout}`);

  const second = join(temp.dir, 'second.yml');
  writeFileSync(second, manifest(2, NEW_SECRET));
  const redeployed = await capstan(['-n', '-d', 'web', 'deploy', second]);
  assert.equal(redeployed.code, 0, redeployed.stderr);
  const changed = redeployed.stdout.split('\n').filter((l) => /^[+-] /.test(l));
  assert.deepEqual(changed, [
    '-   instances: 1',
    '+   instances: 2',
    '-       admin_password: <redacted>',
    '+       admin_password: <redacted>',
    '-   api_token: <redacted>',
    '+   api_token: <redacted>',
  ]);
  assert.ok(!redeployed.stdout.includes(SECRET) && !redeployed.stdout.includes(NEW_SECRET), redeployed.stdout);

  writeFileSync(second, manifest(2, 'third-secret-value'));
  const unredacted = await capstan(['-n', '-d', 'web', 'deploy', '--no-redact', second]);
  assert.equal(unredacted.code, 0, unredacted.stderr);
  assert.match(unredacted.stdout, new RegExp(`- {7}admin_password: ${NEW_SECRET}\n\\+ {7}admin_password: third-secret-value`));
});

test('GET /deployments/<d> redacts with redact=true and, like BOSH, answers the manifest as deployed otherwise; a broken manifest in a diff is reported, not thrown', async () => {
  const redacted = (await director.request('GET', '/deployments/web?redact=true')).json<{ manifest: string }>().manifest;
  assert.ok(!redacted.includes('third-secret-value') && redacted.includes('<redacted>'));
  const raw = (await director.request('GET', '/deployments/web')).json<{ manifest: string }>().manifest;
  assert.ok(raw.includes('admin_password: third-secret-value'));

  const broken = await diff('web', 'name: web\ninstance_groups: [\n');
  assert.equal(broken.status, 200);
  const body = broken.json<{ diff: unknown[]; error?: string }>();
  assert.deepEqual(body.diff, []);
  assert.match(body.error ?? '', /Unable to diff manifest/);

  const unchanged = await diff('web', raw);
  assert.deepEqual(unchanged.json<{ diff: unknown[] }>().diff, [], 'no changes, no lines');
});

test('property-based: no value below properties or env survives redaction, at any depth or shape', async () => {
  const { manifestDiff, redactManifestText } = await import('../../src/director/api/manifest-diff.js');
  const { stringify } = await import('yaml');
  const fc = (await import('fast-check')).default;
  const secret = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'), minLength: 12, maxLength: 24 }).map((s) => `s3cr3t${s}`);
  const shapes = [
    (s: string) => s,
    (s: string) => [s, 'x'],
    (s: string) => ({ deeper: { list: [{ key: s }] } }),
    (s: string) => `multi\nline ${s}\n`,
  ];
  const manifest = (s: string, shape: number, key: string, global: boolean): Record<string, unknown> => {
    const values = { [key]: { a: shapes[shape](s) } };
    return global ? { name: 'd', ...values } : { name: 'd', instance_groups: [{ name: 'ig', instances: 1, jobs: [{ name: 'j', ...values }] }] };
  };
  fc.assert(
    fc.property(secret, secret, fc.nat(shapes.length - 1), fc.nat(shapes.length - 1), fc.constantFrom('properties', 'env'), fc.boolean(), (before, after, s1, s2, key, global) => {
      const [old, now] = [manifest(before, s1, key, global), manifest(after, s2, key, global)];
      const redacted = redactManifestText(stringify(old));
      const lines = manifestDiff(old, now, true).map(([l]) => l).join('\n');
      return !redacted.includes(before) && !lines.includes(before) && !lines.includes(after);
    }),
    { seed: 20261121, numRuns: 200 },
  );
});
