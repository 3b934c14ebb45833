// Instance planning against a real SQLite DB: stable uuids by group+index and manual-network IP
// allocation (first free address that is not network, broadcast, gateway, reserved or static).
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import { openDatabase } from '../../../src/director/db/index.js';
import type { Database } from '../../../src/director/db/schema.js';
import { findOrCreateDeployment, planInstanceGroup, releaseInstanceIps, obsoleteInstances } from '../../../src/director/deploy/planner.js';
import { firstFreeIp, expandIps, ipToInt, intToIp } from '../../../src/director/deploy/ip.js';
import type { CloudConfig, InstanceGroup } from '../../../src/manifest/types.js';

let db: Kysely<Database>;
beforeEach(async () => {
  db = await openDatabase({ adapter: 'sqlite', database: ':memory:' });
});
afterEach(async () => {
  await db.destroy();
});

const cloudConfig = (subnet: Partial<CloudConfig['networks'][number]['subnets'][number]> = {}): CloudConfig => ({
  azs: [{ name: 'z1' }, { name: 'z2' }],
  vm_types: [{ name: 'default', cloud_properties: {} }],
  vm_extensions: [],
  disk_types: [],
  networks: [{
    name: 'default',
    type: 'manual',
    subnets: [{
      range: '10.245.0.0/24', gateway: '10.245.0.1', dns: ['8.8.8.8'], reserved: ['10.245.0.2 - 10.245.0.4'],
      static: ['10.245.0.10 - 10.245.0.11'], azs: ['z1', 'z2'], cloud_properties: { name: 'capstan' }, ...subnet,
    }],
  }],
  compilation: { workers: 1, network: 'default', vm_type: 'default', az: 'z1' },
});

const group = (instances: number, extra: Partial<InstanceGroup> = {}): InstanceGroup => ({
  name: 'nginx', azs: ['z1'], instances, jobs: [{ name: 'nginx', release: 'nginx' }], vm_type: 'default', stemcell: 'default',
  networks: [{ name: 'default' }], lifecycle: 'service', ...extra,
});

test('first free IP skips network, gateway, reserved and static addresses', () => {
  const subnet = cloudConfig().networks[0].subnets[0];
  assert.equal(intToIp(firstFreeIp(subnet, new Set())!), '10.245.0.5');
  assert.equal(intToIp(firstFreeIp(subnet, new Set([ipToInt('10.245.0.5'), ipToInt('10.245.0.6')]))!), '10.245.0.7');
  const tiny = { range: '10.0.0.0/30', gateway: '10.0.0.1' };
  assert.equal(intToIp(firstFreeIp(tiny, new Set())!), '10.0.0.2');
  assert.equal(firstFreeIp(tiny, new Set([ipToInt('10.0.0.2')])), null, 'broadcast 10.0.0.3 is never handed out');
  assert.deepEqual(expandIps(['10.0.0.9 - 10.0.0.11']).map(intToIp), ['10.0.0.9', '10.0.0.10', '10.0.0.11']);
});

test('instances get consecutive free IPs, network settings and stable uuids across deploys', async () => {
  const deploymentId = await findOrCreateDeployment(db, 'web');
  const first = await planInstanceGroup(db, deploymentId, group(2), cloudConfig(), 1);
  assert.deepEqual(first.map((i) => i.networks.default.ip), ['10.245.0.5', '10.245.0.6']);
  assert.deepEqual(first[0].networks.default, {
    type: 'manual', ip: '10.245.0.5', netmask: '255.255.255.0', gateway: '10.245.0.1', prefix: '24', dns: ['8.8.8.8'],
    cloud_properties: { name: 'capstan' }, default: ['dns', 'gateway'],
  });
  assert.deepEqual(first.map((i) => [i.index, i.az, i.bootstrap]), [[0, 'z1', true], [1, 'z1', false]]);

  const again = await planInstanceGroup(db, deploymentId, group(3), cloudConfig(), 2);
  assert.deepEqual(again.slice(0, 2).map((i) => i.uuid), first.map((i) => i.uuid), 'same group+index keeps its uuid');
  assert.deepEqual(again.map((i) => i.networks.default.ip), ['10.245.0.5', '10.245.0.6', '10.245.0.7'], 'IPs are kept');
  const rows = await db.selectFrom('ip_addresses').selectAll().orderBy('address_str').execute();
  assert.deepEqual(rows.map((r) => r.address_str), ['10.245.0.5', '10.245.0.6', '10.245.0.7']);
});

test('addresses held by another deployment are skipped; released ones are reused', async () => {
  const other = await findOrCreateDeployment(db, 'other');
  const mine = await findOrCreateDeployment(db, 'web');
  const [held] = await planInstanceGroup(db, other, group(1, { name: 'db' }), cloudConfig(), 1);
  const [planned] = await planInstanceGroup(db, mine, group(1), cloudConfig(), 1);
  assert.equal(held.networks.default.ip, '10.245.0.5');
  assert.equal(planned.networks.default.ip, '10.245.0.6');
  await releaseInstanceIps(db, held.dbId);
  await db.deleteFrom('instances').where('id', '=', held.dbId).execute();
  const [next] = await planInstanceGroup(db, other, group(1, { name: 'cache' }), cloudConfig(), 2);
  assert.equal(next.networks.default.ip, '10.245.0.5');
});

test('static IPs must come from the subnet static range and are not handed out dynamically', async () => {
  const deploymentId = await findOrCreateDeployment(db, 'web');
  const planned = await planInstanceGroup(db, deploymentId, group(1, { networks: [{ name: 'default', static_ips: ['10.245.0.10'] }] }), cloudConfig(), 1);
  assert.equal(planned[0].networks.default.ip, '10.245.0.10');
  await assert.rejects(
    planInstanceGroup(db, deploymentId, group(1, { name: 'bad', networks: [{ name: 'default', static_ips: ['10.245.0.50'] }] }), cloudConfig(), 1),
    /Failed to reserve IP '10.245.0.50' for instance 'bad\/.* \(0\)': IP belongs to no static range of network 'default'/,
  );
});

test('a full subnet fails with the instance and network named', async () => {
  const deploymentId = await findOrCreateDeployment(db, 'web');
  const small = cloudConfig({ range: '10.245.0.0/29', reserved: [], static: [] }); // .1 gateway, .2-.6 usable
  await assert.rejects(planInstanceGroup(db, deploymentId, group(6), small, 1), /Failed to reserve IP for 'nginx\/[0-9a-f-]+ \(5\)' for manual network 'default': no more available/);
});

test('scaled-down instances are obsolete', async () => {
  const deploymentId = await findOrCreateDeployment(db, 'web');
  await planInstanceGroup(db, deploymentId, group(3), cloudConfig(), 1);
  const obsolete = await obsoleteInstances(db, deploymentId, [group(1)]);
  assert.deepEqual(obsolete.map((r) => r.index).sort(), [1, 2]);
  assert.deepEqual((await obsoleteInstances(db, deploymentId, [])).length, 3);
});
