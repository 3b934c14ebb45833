// `capstan interpolate` (bosh int): ops files and variables applied offline, through bin/capstan.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const BIN = resolve(import.meta.dirname, '../../bin/capstan');
let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'capstan-int-'));
  writeFileSync(
    join(dir, 'manifest.yml'),
    [
      '# comments do not survive',
      'name: ((deployment_name))',
      'update: {canaries: 1, max_in_flight: 1}',
      'instance_groups:',
      '- name: web',
      '  instances: ((count))',
      '  jobs:',
      '  - name: nginx',
      '    properties: {title: "((title)) on ((count)) VMs", cert: ((tls.certificate))}',
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'scale.yml'), '- type: replace\n  path: /instance_groups/name=web/azs?\n  value: [z1, z2]\n- type: remove\n  path: /update/max_in_flight\n');
  writeFileSync(join(dir, 'vars.yml'), 'count: 3\ntls: {certificate: "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n"}\n');
  writeFileSync(join(dir, 'title.txt'), 'Welcome');
});
after(() => rmSync(dir, { recursive: true, force: true }));

function capstan(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(BIN, args, { cwd: dir, env: { PATH: process.env.PATH, CAPSTAN_HOME: join(dir, 'home'), ...env } }, (err, stdout, stderr) =>
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test('interpolate prints the manifest with ops and vars applied, keys sorted like bosh int', async () => {
  const { code, stdout, stderr } = await capstan(
    ['interpolate', 'manifest.yml', '-o', 'scale.yml', '-l', 'vars.yml', '--var-file', 'title=title.txt', '-v', 'count=2', '--vars-env', 'MY'],
    { MY_deployment_name: 'nginx' },
  );
  assert.equal(code, 0, stderr);
  assert.equal(
    stdout,
    [
      'instance_groups:',
      '- azs:',
      '  - z1',
      '  - z2',
      '  instances: 2',
      '  jobs:',
      '  - name: nginx',
      '    properties:',
      '      cert: |',
      '        -----BEGIN CERTIFICATE-----',
      '        MIIB',
      '        -----END CERTIFICATE-----',
      '      title: Welcome on 2 VMs',
      '  name: web',
      'name: nginx',
      'update:',
      '  canaries: 1',
      '',
    ].join('\n'),
  );
});

test('--path prints one value; a string prints as itself', async () => {
  const cert = await capstan(['int', 'manifest.yml', '-l', 'vars.yml', '--path', '/instance_groups/name=web/jobs/0/properties/cert']);
  assert.equal(cert.code, 0, cert.stderr);
  assert.equal(cert.stdout, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  const update = await capstan(['int', 'manifest.yml', '--path', '/update']);
  assert.equal(update.stdout, 'canaries: 1\nmax_in_flight: 1\n');
});

test('--var-errs names every missing variable; without it they stay for the director', async () => {
  const strict = await capstan(['int', 'manifest.yml', '-v', 'count=1', '--var-errs']);
  assert.equal(strict.code, 1);
  assert.match(strict.stderr, /^Expected to find variables:\n {2}- deployment_name\n {2}- title\n {2}- tls$/m);
  const lax = await capstan(['int', 'manifest.yml', '-v', 'count=1']);
  assert.equal(lax.code, 0);
  assert.match(lax.stdout, /^name: \(\(deployment_name\)\)$/m);
});

test('a failing ops file operation is named with its index and path', async () => {
  writeFileSync(join(dir, 'bad.yml'), '- type: replace\n  path: /instance_groups/name=db/instances\n  value: 2\n');
  const { code, stderr } = await capstan(['int', 'manifest.yml', '-o', 'bad.yml']);
  assert.equal(code, 1);
  assert.match(stderr, /Operation \[0\] in 'bad.yml' \(replace '\/instance_groups\/name=db\/instances'\) failed: Expected to find exactly one matching array item for path '\/instance_groups\/name=db' but found 0/);
});

test('interpolate reads standard input when the path is -', async () => {
  const out = await new Promise<string>((done) => {
    const child = execFile(BIN, ['int', '-', '-v', 'x=1'], { env: { PATH: process.env.PATH, CAPSTAN_HOME: join(dir, 'home') } }, (_e, stdout) => done(stdout));
    child.stdin!.end('b: ((x))\na: 0\n');
  });
  assert.equal(out, 'a: 0\nb: 1\n');
});
