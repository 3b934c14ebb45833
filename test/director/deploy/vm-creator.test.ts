// Creating a VM through the CPI seam: agent mbus certificate, vms row, partial apply, and cleanup
// when the agent never answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createVm, type VmRequest } from '../../../src/director/deploy/vm-creator.js';
import { testDirector } from './support.js';
import { FakeAgents } from './fakes.js';

async function request(director: Awaited<ReturnType<typeof testDirector>>): Promise<VmRequest> {
  const instance = await director.db
    .insertInto('instances')
    .values({ deployment_id: 1, job: 'nginx', index: 0, uuid: 'inst-uuid', state: 'started', availability_zone: 'z1', compilation: 0, bootstrap: 1, spec_json: null, update_completed: 0, ignore: 0 })
    .returning('id')
    .executeTakeFirstOrThrow();
  return {
    deployment: 'web', instanceId: instance.id, instanceGroup: 'nginx', instanceUuid: 'inst-uuid', index: 0,
    stemcell: { name: 'capstan-stemcell', version: '1', operatingSystem: 'debian-bookworm', cid: 'stemcell-cid', apiVersion: 2 },
    cloudProperties: { size: 'small' },
    networks: { default: { type: 'manual', ip: '10.245.0.5', netmask: '255.255.255.0', gateway: '10.245.0.1', default: ['dns', 'gateway'] } },
    env: { bosh: { password: 'x' } },
    job: { name: 'nginx', templates: [{ name: 'nginx', version: 'v1' }] },
  };
}

test('create_vm gets an agent certificate signed by the agent CA, then the agent gets a partial apply', async () => {
  const director = await testDirector();
  try {
    const req = await request(director);
    const vm = await createVm(director, req);
    const created = director.cpi.vms.get(vm.cid)!;
    assert.equal(created.agentId, vm.agentId);
    assert.equal(created.stemcellCid, 'stemcell-cid');
    assert.deepEqual(created.networks, req.networks);

    const mbus = created.env.bosh!.mbus!.cert!;
    assert.equal(mbus.ca, director.ca.certificatePem);
    // an ECDSA key (forge cannot read those): Node's X509Certificate checks it
    const cert = new X509Certificate(mbus.certificate);
    assert.match(cert.subject, new RegExp(`^CN=${vm.agentId}\\.agent\\.bosh-internal$`, 'm'));
    assert.ok(cert.verify(new X509Certificate(director.ca.certificatePem).publicKey), 'signed by the agent CA');
    assert.match(mbus.private_key, /BEGIN PRIVATE KEY/);
    assert.equal(created.env.bosh!.password, 'x');
    assert.equal(created.env.bosh!.group, 'capstan-web-nginx');

    const row = await director.db.selectFrom('vms').selectAll().where('id', '=', vm.id).executeTakeFirstOrThrow();
    assert.equal(row.cid, vm.cid);
    assert.equal(row.agent_id, vm.agentId);
    assert.ok(!row.env_json!.includes('PRIVATE KEY'), 'the mbus private key is not stored');

    assert.deepEqual(director.agents.calls.map((c) => [c.method, c.args]), [
      ['apply', [{ deployment: 'web', job: req.job, index: 0, id: 'inst-uuid', networks: req.networks }]],
    ]);
  } finally {
    await director.cleanup();
  }
});

test('a VM whose agent never answers is deleted and the error names the agent', async () => {
  const director = await testDirector(new FakeAgents(), false);
  try {
    await assert.rejects(createVm(director, await request(director)), /Timed out pinging to [0-9a-f-]+ after 0 seconds/);
    assert.equal(director.cpi.vms.size, 0);
    assert.equal(director.cpi.deleted.length, 1);
    assert.equal((await director.db.selectFrom('vms').selectAll().execute()).length, 0);
  } finally {
    await director.cleanup();
  }
});
