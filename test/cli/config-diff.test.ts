// The config commands against a real director (SQLite, HTTPS): update-cloud-config,
// update-runtime-config, update-cpi-config and update-config show the director's diff before
// changing anything; diff-config diffs two versions. bin/capstan runs as a real child process.
// Expected diff output lives in test/cli/golden/ (UPDATE_GOLDEN=1 rewrites it).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ADMIN, certificate, makeTempDir, startTestDirector, type TestDirector } from '../director/helpers.js';

const BIN = resolve(import.meta.dirname, '../../bin/capstan');
const GOLDEN = resolve(import.meta.dirname, 'golden');
let director: TestDirector;
let temp: ReturnType<typeof makeTempDir>;

before(async () => {
  temp = makeTempDir('cli-config-diff');
  director = await startTestDirector(temp.dir);
  writeFileSync(join(temp.dir, 'ca.pem'), certificate().cert);
});
after(async () => {
  await director.close();
  temp.remove();
});

function capstan(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = execFile(
      BIN,
      args,
      {
        cwd: temp.dir,
        env: {
          PATH: process.env.PATH,
          CAPSTAN_HOME: join(temp.dir, 'home'),
          BOSH_ENVIRONMENT: `https://127.0.0.1:${director.port}`,
          BOSH_CA_CERT: join(temp.dir, 'ca.pem'),
          BOSH_CLIENT: ADMIN.name,
          BOSH_CLIENT_SECRET: ADMIN.password,
        },
      },
      // table cells are padded: trailing spaces are dropped to keep the expectations readable
      (err, stdout, stderr) =>
        done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: stdout.split(`https://127.0.0.1:${director.port}`).join('https://director').replace(/ +$/gm, ''), stderr }),
    );
    child.stdin?.end();
  });
}

async function ok(...args: string[]): Promise<string> {
  const res = await capstan(...args);
  assert.equal(res.code, 0, `capstan ${args.join(' ')}: ${res.stderr}`);
  return res.stdout;
}

function golden(name: string, actual: string): void {
  const file = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN || !existsSync(file)) writeFileSync(file, actual);
  assert.equal(actual, readFileSync(file, 'utf8'), `output differs from ${file}`);
}

const write = (name: string, text: string) => {
  writeFileSync(join(temp.dir, name), text);
  return name;
};

const CLOUD_V1 = 'azs:\n- name: z1\nvm_types:\n- name: small\n  cloud_properties: {cpu: 1}\nnetworks:\n- name: default\n  subnets: [{range: 10.245.0.0/24, gateway: 10.245.0.1, az: z1}]\n';
const CLOUD_V2 = 'azs:\n- name: z1\n- name: z2\nvm_types:\n- name: small\n  cloud_properties: {cpu: 2}\nnetworks:\n- name: default\n  subnets: [{range: 10.245.0.0/24, gateway: 10.245.0.1, az: z1}]\n';

test('update-cloud-config shows what changes against the current cloud config, then stores it', async () => {
  const first = await ok('-n', 'update-cloud-config', write('cloud.yml', CLOUD_V1));
  assert.match(first, /^\+ azs:\n\+ - name: z1\n\+ vm_types:$/m, 'the first cloud config is all added');

  const second = await ok('-n', 'update-cloud-config', write('cloud.yml', CLOUD_V2));
  golden('update-cloud-config.txt', second);
  assert.equal((await director.request('GET', '/cloud_configs?limit=1')).json()[0].properties, CLOUD_V2);

  const unchanged = await ok('-n', 'update-cloud-config', 'cloud.yml');
  assert.doesNotMatch(unchanged, /^[+-] /m, 'no diff lines when nothing changes');

  const bad = await capstan('-n', 'update-cloud-config', write('bad.yml', 'azs: [z1\n'));
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /Fetching diff result: Incorrect YAML structure of the uploaded config/);
  assert.equal((await director.request('GET', '/cloud_configs?limit=1')).json()[0].properties, CLOUD_V2, 'nothing stored');
});

test('update-runtime-config and update-cpi-config redact secrets in the diff unless --no-redact', async () => {
  await ok('-n', 'update-runtime-config', '--name', 'agents', write('rc.yml', 'addons:\n- name: agent\n  jobs: [{name: agent, release: agent}]\n  properties: {token: first-token}\n'));
  write('rc.yml', 'addons:\n- name: agent\n  jobs: [{name: agent, release: agent}]\n  properties: {token: second-token}\n');
  const redacted = await capstan('-n', 'update-runtime-config', '--name', 'agents', '--no-redact', 'rc.yml');
  assert.match(redacted.stdout, /^- {5}token: first-token\n\+ {5}token: second-token$/m);
  write('rc.yml', 'addons:\n- name: agent\n  jobs: [{name: agent, release: agent}]\n  properties: {token: third-token}\n');
  const hidden = await ok('-n', 'update-runtime-config', '--name', 'agents', 'rc.yml');
  assert.match(hidden, /^- {5}token: <redacted>\n\+ {5}token: <redacted>$/m);
  assert.doesNotMatch(hidden, /token: (second|third)-token/);

  await ok('-n', 'update-cpi-config', write('cpi.yml', 'cpis:\n- name: one\n  type: dummy\n'));
  const cpi = await ok('-n', 'update-cpi-config', write('cpi.yml', 'cpis:\n- name: one\n  type: dummy\n- name: two\n  type: dummy\n  properties: {api_key: secret-key}\n'));
  assert.match(cpi, /^\+ - name: two\n\+ {3}type: dummy\n\+ {3}properties:\n\+ {5}api_key: <redacted>$/m);
});

test('update-config diffs against the current version and sends its id as the expected latest id', async () => {
  const created = await ok('-n', 'update-config', '--type', 'deploy', '--name', 'flags', write('deploy.yml', 'flags: [fix]\n'));
  assert.match(created, /^\+ flags:\n\+ - fix$/m);
  assert.match(created, /^Type {8}deploy\nName {8}flags$/m);
  const firstId = /^ID {10}(\d+)\*$/m.exec(created)?.[1];
  assert.ok(firstId, created);

  const updated = await ok('-n', 'update-config', '--type', 'deploy', '--name', 'flags', write('deploy.yml', 'flags: [fix, recreate]\n'));
  assert.match(updated, /^ {2}flags:\n\+ - recreate$/m);
  assert.notEqual(/^ID {10}(\d+)\*$/m.exec(updated)?.[1], firstId, 'a new version');

  const stale = await capstan('-n', 'update-config', '--type', 'deploy', '--name', 'flags', '--expected-latest-id', firstId, write('deploy.yml', 'flags: []\n'));
  assert.notEqual(stale.code, 0);
  assert.match(stale.stderr, new RegExp(`Config update rejected: The expected latest ID '${firstId}' doesn't match the latest ID '\\d+'`));
});

test('diff-config between stored versions by id and between files; unknown ids and missing flags are errors', async () => {
  const versions = (await director.request('GET', '/configs?type=cloud&name=default&latest=false')).json() as Array<{ id: string }>;
  const [newest, previous] = versions.map((v) => v.id); // newest first
  golden('diff-config.txt', await ok('diff-config', '--from-id', previous, '--to-id', newest));

  write('from.yml', 'vm_types: [{name: small}]\n');
  write('to.yml', 'vm_types: [{name: small}, {name: large}]\n');
  assert.match(await ok('diff-config', '--from-content', 'from.yml', '--to-content', 'to.yml'), /^ {2}vm_types:\n\+ - name: large$/m);
  assert.match(await ok('diff-config', '--from-id', previous, '--to-content', 'to.yml'), /^- azs:$/m);

  const unknown = await capstan('diff-config', '--from-id', '999999', '--to-id', newest);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /Config 999999 not found/);
  assert.doesNotMatch(unknown.stderr, /440012/, 'only the director description, as bosh shows it');

  const missing = await capstan('diff-config', '--from-id', previous);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /one of --to-id or --to-content must be specified/);
  const both = await capstan('diff-config', '--from-id', previous, '--from-content', 'from.yml', '--to-id', newest);
  assert.match(both.stderr, /only one of --from-id and --from-content can be specified/);
  assert.match((await capstan('diff-config', '--from-id', 'abc', '--to-id', newest)).stderr, /--from-id needs to be an integer/);

  const badYaml = await capstan('diff-config', '--from-content', write('broken.yml', 'a: [\n'), '--to-content', 'to.yml');
  assert.notEqual(badYaml.code, 0);
  assert.match(badYaml.stderr, /Fetching diff result: Unable to diff config content: Config must be valid YAML/);
});
