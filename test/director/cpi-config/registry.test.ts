// The CPI registry (src/director/cpis.ts) against a real director DB: the cpi-config's CPIs by name,
// the default CPI for '' and for its own name, AZ -> CPI, the CPI a VM row names, a stemcell's cid
// per CPI, and the cpi-config checks done on upload.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Cpi } from '../../../src/cpi/cpi.js';
import { externalCpiExecutable, type CpiConfigEntry } from '../../../src/cpi/factory.js';
import { CpiRegistry, azCpiName, parseCpiConfig, stemcellCidFor } from '../../../src/director/cpis.js';
import type { Director } from '../../../src/director/context.js';
import { openDatabase } from '../../../src/director/db/index.js';
import type { Database } from '../../../src/director/db/schema.js';
import { parseCloudConfig } from '../../../src/manifest/index.js';
import { testDatabase } from '../../support/test-db.js';

let dir: string;
let db: Kysely<Database>;
const built: CpiConfigEntry[] = [];
const fakeCpi = (label: string) => ({ label }) as unknown as Cpi;
const defaultCpi = fakeCpi('default');
let registry: CpiRegistry;

async function uploadCpiConfig(content: string, name = 'default') {
  await db.insertInto('configs').values({ type: 'cpi', name, content, created_at: new Date().toISOString(), deleted: 0 }).execute();
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'capstan-cpi-registry-'));
  db = await openDatabase(testDatabase(join(dir, 'db.sqlite')));
  registry = new CpiRegistry(db, defaultCpi, 'dummy', (entry) => {
    built.push(entry);
    return fakeCpi(entry.name);
  });
});

after(async () => {
  await db.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const label = (cpi: Cpi) => (cpi as unknown as { label: string }).label;

test("without a cpi-config only the default CPI exists, under '' and its own name", async () => {
  assert.equal(await registry.get(''), defaultCpi);
  assert.equal(await registry.get(null), defaultCpi);
  assert.equal(await registry.get('dummy'), defaultCpi);
  assert.deepEqual((await registry.all()).map((c) => c.name), ['']);
  await assert.rejects(registry.forVm({ cid: 'vm-1', cpi: 'aws' }), /CPI 'aws' of VM 'vm-1' not found in cpi-config/);
});

test('the latest cpi-config of every name adds named CPIs, built once per entry', async () => {
  await uploadCpiConfig('cpis: [{name: old, type: dummy}]');
  await uploadCpiConfig('cpis: [{name: one, type: dummy, properties: {base_dir: /tmp/one}}, {name: two, type: docker}]');
  await uploadCpiConfig('cpis: [{name: aws, type: aws, properties: {region: x}}]', 'extra');
  assert.deepEqual((await registry.all()).map((c) => c.name), ['', 'aws', 'one', 'two']);
  assert.equal(label(await registry.get('one')), 'one');
  assert.equal(label(await registry.forVm({ cid: 'vm-2', cpi: 'two' })), 'two');
  assert.equal(await registry.forVm({ cid: 'vm-3', cpi: '' }), defaultCpi);
  await assert.rejects(registry.get('old'), /CPI 'old' not found in cpi-config/);
  await registry.get('one');
  assert.equal(built.filter((e) => e.name === 'one').length, 1);
  assert.deepEqual(built.find((e) => e.name === 'aws'), { name: 'aws', type: 'aws', properties: { region: 'x' } });
});

test('AZs map to CPIs; an AZ naming an unknown CPI is an error naming both', async () => {
  const cloud = parseCloudConfig(
    'azs: [{name: z1, cpi: one}, {name: z2}, {name: z3, cpi: nowhere}]\nvm_types: [{name: default}]\nnetworks: [{name: net, type: dynamic}]\ncompilation: {workers: 1, network: net}\n',
    'cloud.yml',
  );
  assert.equal(azCpiName(cloud, 'z1'), 'one');
  assert.equal(azCpiName(cloud, 'z2'), '');
  assert.equal(azCpiName(cloud, null), '');
  await registry.validateAzs(cloud, ['z1', 'z2']);
  await assert.rejects(registry.validateAzs(cloud, ['z1', 'z3']), /CPI 'nowhere' was defined for AZ 'z3' but not found in cpi-config \(CPIs: aws, one, two\)/);
});

test("a VM's stemcell is the CPI's own stemcells row", async () => {
  for (const [cpi, cid] of [['', 'sc-default'], ['one', 'sc-one']]) {
    await db.insertInto('stemcells').values({ name: 's', version: '1', operating_system: 'os', cid, sha1: 'x', cpi, api_version: 2 }).execute();
  }
  const director = { db } as Director;
  const stemcell = { name: 's', version: '1', cid: 'sc-default' };
  assert.equal(await stemcellCidFor(director, stemcell, ''), 'sc-default');
  assert.equal(await stemcellCidFor(director, stemcell, 'one'), 'sc-one');
  await assert.rejects(stemcellCidFor(director, stemcell, 'two'), /Stemcell 's\/1' is not uploaded to CPI 'two'/);
});

test('a CPI renamed with migrated_from keeps its VMs and stemcells under the old name', async () => {
  await uploadCpiConfig('cpis: [{name: uno, type: dummy, migrated_from: [{name: one}]}, {name: two, type: docker}]');
  assert.equal(label(await registry.forVm({ cid: 'vm-4', cpi: 'one' })), 'uno');
  assert.equal(registry.currentName('one'), 'uno');
  assert.equal(registry.currentName('two'), 'two');
  const stemcell = { name: 's', version: '1', cid: 'sc-default' };
  assert.equal(await stemcellCidFor({ db } as Director, stemcell, 'uno'), 'sc-one');
});

test('cpi-configs are checked: shape, external exec_path, docker tls; BOSH types run as external CPIs', () => {
  assert.throws(() => parseCpiConfig('cpis: [{type: dummy}]'), /cpis\.0\.name/);
  assert.throws(() => parseCpiConfig('cpis: [{name: x, type: external}]'), /type 'external' needs exec_path/);
  assert.throws(() => parseCpiConfig('cpis: [{name: d, type: docker, properties: {tls: {ca: x}}}]'), /properties\.tls: needs ca, certificate and private_key/);
  const [aws, path, external] = parseCpiConfig('cpis: [{name: a, type: aws}, {name: p, type: /opt/cpi/bin/cpi}, {name: e, type: external, exec_path: /bin/cpi}]');
  assert.equal(externalCpiExecutable(aws), '/var/vcap/jobs/aws_cpi/bin/cpi');
  assert.equal(externalCpiExecutable(path), '/opt/cpi/bin/cpi');
  assert.equal(externalCpiExecutable(external), '/bin/cpi');
});
