// cpi-config with the dummy CPI, driven through the `capstan` CLI against the real director process:
// two dummy CPIs (each with its own base dir) behind AZs z1 and z2. The stemcell goes to every CPI,
// a two-instance deployment puts one VM in each AZ, each made by that AZ's CPI (its agent runs
// under that CPI's base dir), and delete-deployment deletes each VM through the CPI that made it.
// An AZ naming a CPI the cpi-config lacks fails the deploy with an error naming it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { dummyEnvironmentSkip, dummyStemcell, startDummyEnvironment, writeReleaseDir, type DummyEnvironment } from '../../support/dummy-env.js';

const skip = dummyEnvironmentSkip;
let env: DummyEnvironment;
const baseDir = (cpi: string) => join(env.home, 'cpis', cpi);

async function getJson(path: string): Promise<any> {
  const client = env.client();
  try {
    return JSON.parse((await client.request('GET', path)).body.toString('utf8'));
  } finally {
    client.close();
  }
}

function writeYaml(name: string, content: unknown): string {
  const path = join(env.work, name);
  writeFileSync(path, stringify(content));
  return path;
}

function cloudConfig(z2Cpi: string) {
  return {
    azs: [{ name: 'z1', cpi: 'dummy-one' }, { name: 'z2', cpi: z2Cpi }],
    vm_types: [{ name: 'default' }],
    networks: [{
      name: 'default', type: 'manual',
      subnets: [
        { range: '10.244.1.0/24', gateway: '10.244.1.1', az: 'z1', reserved: ['10.244.1.1 - 10.244.1.9'] },
        { range: '10.244.2.0/24', gateway: '10.244.2.1', az: 'z2', reserved: ['10.244.2.1 - 10.244.2.9'] },
      ],
    }],
    compilation: { workers: 1, network: 'default', az: 'z1', vm_type: 'default' },
  };
}

const manifest = writeYaml.bind(null, 'manifest.yml');

before(async () => {
  if (skip) return;
  env = await startDummyEnvironment('capstan-cpi-config');
  const releaseDir = writeReleaseDir(join(env.work, 'release'), 'plain', [{ name: 'idle', spec: { properties: {} }, monit: '', templates: {} }]);
  const tarball = join(env.work, 'plain.tgz');
  await env.capstanOk('create-release', '--dir', releaseDir, '--version', '1', '--tarball', tarball, '--force');
  await env.capstanOk('upload-release', tarball);
});

after(async () => {
  if (skip || !env) return;
  await env.capstan('-d', 'app', 'delete-deployment', '--force');
  await env.stop();
});

test('two dummy CPIs behind two AZs: one VM in each, made and deleted by its own CPI', { skip }, async () => {
  await env.capstanOk('update-cpi-config', writeYaml('cpi.yml', {
    cpis: [
      { name: 'dummy-one', type: 'dummy', properties: { base_dir: baseDir('one') } },
      { name: 'dummy-two', type: 'dummy', properties: { base_dir: baseDir('two') } },
    ],
  }));
  // the stemcell the environment uploaded is only in the default CPI: uploading it again adds it to the others
  const uploaded = await env.capstanOk('upload-stemcell', await dummyStemcell(env.work));
  console.log(uploaded.split('\n').filter((l) => /Uploading stemcell/.test(l)).join('\n'));
  const stemcells = await getJson('/stemcells');
  assert.deepEqual(stemcells.map((s: any) => s.cpi).sort(), ['', 'dummy-one', 'dummy-two']);
  assert.equal(new Set(stemcells.map((s: any) => s.cid)).size, 3, 'each CPI made its own stemcell');

  await env.capstanOk('update-cloud-config', writeYaml('cloud.yml', cloudConfig('dummy-two')));
  const deployed = await env.capstan('-d', 'app', 'deploy', manifest({
    name: 'app',
    releases: [{ name: 'plain', version: 'latest' }],
    stemcells: [{ alias: 'default', os: 'debian-bookworm', version: 'latest' }],
    update: { canaries: 1, max_in_flight: 2, canary_watch_time: '1000-20000', update_watch_time: '1000-20000' },
    instance_groups: [{ name: 'idle', instances: 2, azs: ['z1', 'z2'], vm_type: 'default', stemcell: 'default', networks: [{ name: 'default' }], jobs: [{ name: 'idle', release: 'plain' }] }],
  }));
  assert.equal(deployed.status, 0, deployed.stdout + deployed.stderr);

  const vms = (await env.capstanOk('-d', 'app', 'vms', '--json'));
  const rows = JSON.parse(vms).Tables[0].Rows as Array<Record<string, string>>;
  console.log(rows.map((r) => `${r.instance} ${r.az} ${r.process_state} ${r.vm_cid}`).join('\n'));
  assert.deepEqual(rows.map((r) => r.az).sort(), ['z1', 'z2']);
  for (const row of rows) assert.equal(row.process_state, 'running');
  const byAz = Object.fromEntries(rows.map((r) => [r.az, r.vm_cid]));
  // a dummy VM lives in <cpi base dir>/vms/<cid>: its agent runs there
  assert.ok(existsSync(join(baseDir('one'), 'vms', byAz.z1)), 'z1 VM made by dummy-one');
  assert.ok(existsSync(join(baseDir('two'), 'vms', byAz.z2)), 'z2 VM made by dummy-two');
  assert.ok(!existsSync(join(baseDir('one'), 'vms', byAz.z2)) && !existsSync(join(baseDir('two'), 'vms', byAz.z1)));

  // `capstan task N --cpi`: the deploy task's cpi output holds both CPIs' create_vm calls
  const [deployTask] = await getJson('/tasks?deployment=app&limit=1');
  const cpiLog = await env.capstanOk('task', String(deployTask.id), '--cpi');
  for (const cid of [byAz.z1, byAz.z2]) assert.match(cpiLog, new RegExp(`"vm_cid":"${cid}".*vm created`), cpiLog);

  await env.capstanOk('-d', 'app', 'delete-deployment');
  assert.ok(!existsSync(join(baseDir('one'), 'vms', byAz.z1)), 'dummy-one deleted its VM');
  assert.ok(!existsSync(join(baseDir('two'), 'vms', byAz.z2)), 'dummy-two deleted its VM');
});

test("an AZ moved to another CPI gets its VM recreated there; the old CPI deletes the old VM", { skip }, async () => {
  await env.capstanOk('update-cloud-config', writeYaml('cloud.yml', cloudConfig('dummy-two')));
  await env.capstanOk('-d', 'app', 'deploy', join(env.work, 'manifest.yml'));
  const vmsByAz = async () => Object.fromEntries((JSON.parse(await env.capstanOk('-d', 'app', 'vms', '--json')).Tables[0].Rows as Array<Record<string, string>>).map((r) => [r.az, r.vm_cid]));
  const before = await vmsByAz();
  assert.ok(existsSync(join(baseDir('two'), 'vms', before.z2)));

  await env.capstanOk('update-cloud-config', writeYaml('cloud.yml', cloudConfig('dummy-one')));
  await env.capstanOk('-d', 'app', 'deploy', join(env.work, 'manifest.yml'));
  const after = await vmsByAz();
  console.log(`z2 VM ${before.z2} (dummy-two) -> ${after.z2} (dummy-one); z1 VM kept: ${after.z1 === before.z1}`);
  assert.equal(after.z1, before.z1, 'z1 did not change CPI: its VM stays');
  assert.notEqual(after.z2, before.z2);
  assert.ok(!existsSync(join(baseDir('two'), 'vms', before.z2)), 'dummy-two deleted the old VM');
  assert.ok(existsSync(join(baseDir('one'), 'vms', after.z2)), 'dummy-one made the new one');
  await env.capstanOk('-d', 'app', 'delete-deployment');
});

test('an AZ naming a CPI the cpi-config does not define fails the deploy naming the CPI and the AZ', { skip }, async () => {
  await env.capstanOk('update-cloud-config', writeYaml('cloud.yml', cloudConfig('dummy-nowhere')));
  const result = await env.capstan('-d', 'app', 'deploy', join(env.work, 'manifest.yml'));
  assert.notEqual(result.status, 0);
  const output = result.stdout + result.stderr;
  console.log(output.split('\n').filter((l) => /dummy-nowhere/.test(l)).join('\n'));
  assert.match(output, /CPI 'dummy-nowhere' was defined for AZ 'z2' but not found in cpi-config \(CPIs: dummy-one, dummy-two\)/);
});

test('a cpi-config that is not valid is refused on upload', { skip }, async () => {
  const result = await env.capstan('update-cpi-config', writeYaml('bad-cpi.yml', { cpis: [{ name: 'x', type: 'external' }] }));
  assert.notEqual(result.status, 0);
  assert.match(result.stdout + result.stderr, /type 'external' needs exec_path/);
});

test('clean-up --all deletes an unused stemcell from every CPI', { skip }, async () => {
  await env.capstan('-d', 'app', 'delete-deployment', '--force');
  const before = await getJson('/stemcells');
  assert.equal(before.length, 3);
  const record = (cpi: string) => join(baseDir(cpi), 'stemcells', `${before.find((s: any) => s.cpi === `dummy-${cpi}`).cid}.json`);
  assert.ok(existsSync(record('one')) && existsSync(record('two')));
  await env.capstanOk('clean-up', '--all');
  assert.deepEqual(await getJson('/stemcells'), []);
  for (const cpi of ['one', 'two']) assert.ok(!existsSync(record(cpi)), `dummy-${cpi} deleted its stemcell`);
});
