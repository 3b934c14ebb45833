// Blobstore access control: every VM gets its own credential for the embedded blob server at
// create_vm (env.bosh.blobstores), never the director's. With it an agent reads and adds blobs,
// nothing more; a forged or another agent's credential gets 401, and a VM the director deleted
// loses access. The director's own user keeps full access.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BlobstoreSettings, NetworkSettings } from '../../src/common/protocol.js';
import type { Cpi, VmEnv } from '../../src/cpi/cpi.js';
import type { AgentClientFactory } from '../../src/director/agent-client.js';
import type { Director } from '../../src/director/context.js';
import { createVm, deleteVm, type CreatedVm, type VmRequest } from '../../src/director/deploy/vm-creator.js';
import { DavBlobstore } from '../../src/blobstore/dav-client.js';
import { agentBlobstoreCredential } from '../../src/blobstore/agent-credentials.js';
import { ensureCertificates } from '../../src/environment/certs.js';
import { environmentPaths } from '../../src/environment/paths.js';
import { BLOB_USER, certificate, FakeCpi, httpsCall, makeTempDir, startTestDirector, type TestDirector } from '../director/helpers.js';

let temp: ReturnType<typeof makeTempDir>;
let running: TestDirector;
let director: Director;
let instanceId = 0;
const envs = new Map<string, VmEnv>();

/** A CPI whose VMs are only the env they were given; enough to see what the director issues. */
function recordingCpi(): Cpi {
  const cpi = new FakeCpi() as unknown as Cpi;
  cpi.createVm = async (agentId, _stemcell, _cp, _net, _disks, env) => {
    envs.set(agentId, env);
    return `vm-${agentId}`;
  };
  cpi.hasVm = async (cid) => [...envs.keys()].some((id) => `vm-${id}` === cid);
  cpi.deleteVm = async (cid) => void envs.delete(cid.replace(/^vm-/, ''));
  return cpi;
}

const readyAgents: AgentClientFactory = {
  forAgent: () => {
    throw new Error('no agent calls for compilation VMs');
  },
  waitUntilReady: async () => undefined,
  close: async () => undefined,
};

before(async () => {
  temp = makeTempDir('blob-credentials');
  running = await startTestDirector(temp.dir);
  const paths = environmentPaths(join(temp.dir, 'home'));
  ensureCertificates(paths, { natsIp: '127.0.0.1', directorIps: [] });
  const config = {
    ...running.config,
    agent_ca: { certificate_path: paths.certs.ca, private_key_path: paths.certs.caKey },
    nats: { ...running.config.nats, ca_path: paths.certs.ca },
    blobstore: { ...running.config.blobstore, agent_endpoint: `https://127.0.0.1:${running.blobstorePort}` },
  };
  director = { ...running.director, cpis: undefined, config, cpi: recordingCpi(), agents: readyAgents };
  const deployment = await director.db.insertInto('deployments').values({ name: 'blobs', manifest_text: null, cloud_config_id: null }).returning('id').executeTakeFirstOrThrow();
  const instance = await director.db
    .insertInto('instances')
    .values({ deployment_id: deployment.id, job: 'compilation-x', index: 0, uuid: 'c0ffee00-0000-4000-8000-000000000001', state: 'started', availability_zone: null, compilation: 1, bootstrap: 0, spec_json: null, update_completed: 0, ignore: 0 })
    .returning('id')
    .executeTakeFirstOrThrow();
  instanceId = instance.id;
});

after(async () => {
  await running?.close();
  temp?.remove();
});

function request(): VmRequest {
  const networks: Record<string, NetworkSettings> = {};
  return {
    deployment: 'blobs', instanceId, instanceGroup: 'compilation-x', instanceUuid: 'c0ffee00-0000-4000-8000-000000000001', index: 0,
    stemcell: { name: 's', version: '1', operatingSystem: 'ubuntu-jammy', cid: 'stemcell-cid', apiVersion: 3 },
    cloudProperties: {}, networks, env: {}, job: null,
  };
}

/** The blobstore the agent of `vm` was given, as its own dav client uses it (trusting the test server's cert). */
function agentStore(vm: CreatedVm): { settings: BlobstoreSettings; store: DavBlobstore } {
  const settings = envs.get(vm.agentId)!.bosh!.blobstores![0];
  const options = settings.options as { endpoint: string; user: string; password: string };
  return { settings, store: new DavBlobstore({ ...options, tls: { cert: { ca: certificate().cert } } }) };
}

const auth = (user: string, password: string) => ({ name: user, password });
const blobCall = (method: string, path: string, who: { name: string; password: string }, body?: string) =>
  httpsCall(running.blobstorePort, method, path, { auth: who, body });

test('each VM gets its own blobstore credential, not the director’s, and it is kept out of the DB', async () => {
  const a = await createVm(director, request());
  const b = await createVm(director, request());
  const { settings: sa } = agentStore(a);
  const { settings: sb } = agentStore(b);
  assert.equal(sa.provider, 'dav');
  assert.equal(sa.options.endpoint, `https://127.0.0.1:${running.blobstorePort}`);
  assert.equal(sa.options.user, `agent-${a.agentId}`);
  assert.notEqual(sa.options.password, sb.options.password);
  assert.ok(String(sa.options.password).length >= 32);
  for (const s of [sa, sb]) assert.notEqual(s.options.password, BLOB_USER.password);
  assert.match(String((sa.options.tls as { cert: { ca: string } }).cert.ca), /BEGIN CERTIFICATE/);
  const row = await director.db.selectFrom('vms').select('env_json').where('agent_id', '=', a.agentId).executeTakeFirstOrThrow();
  assert.ok(!row.env_json!.includes(String(sa.options.password)), 'the credential is not stored in vms.env_json');
  await deleteVm(director, a);
  await deleteVm(director, b);
});

test('an agent reads and adds blobs with its credential, but may not delete or replace them', async () => {
  const vm = await createVm(director, request());
  const { store, settings } = agentStore(vm);
  const file = join(temp.dir, 'compiled.tgz');
  writeFileSync(file, 'compiled package bytes\n');
  const id = await store.put(file);
  assert.equal(readFileSync(join(running.config.blobstore.path, id), 'utf8'), 'compiled package bytes\n');
  await store.get(id, join(temp.dir, 'back'));
  assert.equal(readFileSync(join(temp.dir, 'back'), 'utf8'), 'compiled package bytes\n');
  assert.equal(await store.exists(id), true);

  const own = auth(String(settings.options.user), String(settings.options.password));
  const del = await blobCall('DELETE', `/${id}`, own);
  assert.equal(del.status, 403);
  await assert.rejects(store.delete(id), /status 403/);
  const replace = await blobCall('PUT', `/${id}`, own, 'tampered');
  assert.equal(replace.status, 409);
  assert.equal(readFileSync(join(running.config.blobstore.path, id), 'utf8'), 'compiled package bytes\n', 'the blob is unchanged');

  // the director's own user still does everything
  const director_ = auth(BLOB_USER.user, BLOB_USER.password);
  assert.equal((await blobCall('PUT', `/${id}`, director_, 'replaced by the director')).status, 204);
  assert.equal((await blobCall('DELETE', `/${id}`, director_)).status, 204);
  await deleteVm(director, vm);
});

test('forged credentials, and one agent’s password under another agent’s name, get 401', async () => {
  const a = await createVm(director, request());
  const b = await createVm(director, request());
  const pa = String(agentStore(a).settings.options.password);
  await running.director.blobstore.put(writeTemp('director blob'), 'director-blob');
  const forged = [
    auth(`agent-${a.agentId}`, 'guessed-password'),
    auth(`agent-${b.agentId}`, pa),
    auth(`agent-${a.agentId}`, agentBlobstoreCredential('not-the-director-secret', a.agentId).password),
    auth('agent-', ''),
    auth(BLOB_USER.user, pa),
  ];
  for (const who of forged) {
    const res = await blobCall('GET', '/director-blob', who);
    assert.equal(res.status, 401, `${who.name} was let in`);
    assert.equal((await blobCall('PUT', '/new-blob', who, 'x')).status, 401);
  }
  assert.equal((await blobCall('GET', '/director-blob', auth(`agent-${a.agentId}`, pa))).text, 'director blob');
  await deleteVm(director, a);
  await deleteVm(director, b);
});

test('a credential stops working once the director deleted the VM', async () => {
  const vm = await createVm(director, request());
  const { settings } = agentStore(vm);
  const own = auth(String(settings.options.user), String(settings.options.password));
  await running.director.blobstore.put(writeTemp('package'), 'package-blob');
  assert.equal((await blobCall('GET', '/package-blob', own)).status, 200);
  await deleteVm(director, vm);
  assert.equal((await blobCall('GET', '/package-blob', own)).status, 401);
  assert.equal((await blobCall('PUT', '/after-delete', own, 'x')).status, 401);
});

let tempFiles = 0;
function writeTemp(text: string): string {
  const path = join(temp.dir, `temp-${tempFiles++}`);
  writeFileSync(path, text);
  return path;
}
