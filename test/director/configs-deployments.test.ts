// Configs and deployments endpoints the CLI uses around a deploy.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeTempDir, startTestDirector, taskIdFrom, type TestDirector } from './helpers.js';

let director: TestDirector;
let temp: ReturnType<typeof makeTempDir>;
const deployed: unknown[] = [];

before(async () => {
  temp = makeTempDir('director-configs');
  director = await startTestDirector(temp.dir, {
    jobs: {
      update_deployment: async (d, _task, payload) => {
        deployed.push(payload);
        await d.db.updateTable('deployments').set({ manifest_text: payload.manifest_text }).where('name', '=', payload.deployment_name).execute();
        return `/deployments/${payload.deployment_name}`;
      },
      delete_deployment: async (d, _task, payload) => {
        await d.db.deleteFrom('deployments').where('name', '=', payload.deployment_name).execute();
        return `/deployments/${payload.deployment_name}`;
      },
    },
  });
});
after(async () => {
  await director.close();
  temp.remove();
});

test('cloud config through the legacy endpoints and /configs', async () => {
  const yaml = { 'content-type': 'text/yaml' };
  assert.equal((await director.request('GET', '/cloud_configs')).status, 400); // limit is required
  assert.deepEqual((await director.request('GET', '/cloud_configs?limit=1')).json(), []);
  const created = await director.request('POST', '/cloud_configs', { headers: yaml, body: 'vm_types: [{name: small}]\n' });
  assert.equal(created.status, 201);
  await director.request('POST', '/cloud_configs', { headers: yaml, body: 'vm_types: [{name: small}]\n' }); // identical: no new version
  await director.request('POST', '/cloud_configs', { headers: yaml, body: 'vm_types: [{name: large}]\n' });
  const latest = (await director.request('GET', '/cloud_configs?limit=1')).json();
  assert.equal(latest.length, 1);
  assert.equal(latest[0].properties, 'vm_types: [{name: large}]\n');
  assert.equal((await director.request('GET', '/cloud_configs?limit=5')).json().length, 2);

  const configs = (await director.request('GET', '/configs?type=cloud&latest=true')).json();
  assert.equal(configs.length, 1);
  assert.deepEqual({ ...configs[0], created_at: undefined, id: undefined }, {
    id: undefined, name: 'default', type: 'cloud', content: 'vm_types: [{name: large}]\n', team: null, created_at: undefined, current: true,
  });
  assert.equal(typeof configs[0].id, 'string');

  const posted = await director.request('POST', '/configs', {
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'runtime', name: 'dns', content: 'addons: []\n' }),
  });
  assert.equal(posted.status, 201);
  assert.equal(posted.json().type, 'runtime');
  const bad = await director.request('POST', '/configs', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'cloud', name: 'x', content: '- a list' }) });
  assert.equal(bad.status, 400);
  assert.equal(typeof bad.json().description, 'string');
});

test('deploy, show, list and delete a deployment through tasks', async () => {
  const manifest = 'name: nginx\ninstance_groups: []\n';
  const res = await director.request('POST', '/deployments', { headers: { 'content-type': 'text/yaml' }, body: manifest });
  const task = await director.waitForTask(taskIdFrom(res));
  assert.equal(task.state, 'done');
  assert.equal(task.deployment, 'nginx');
  assert.deepEqual(deployed.at(-1), {
    deployment_name: 'nginx', manifest_text: manifest, recreate: false, recreate_persistent_disks: false, fix: false, dry_run: false,
    skip_drain: null, canaries: null, max_in_flight: null, context: null,
  });
  assert.deepEqual((await director.request('GET', '/deployments/nginx')).json(), { manifest });
  assert.deepEqual((await director.request('GET', '/deployments')).json(), [
    { name: 'nginx', teams: [], cloud_config: 'none', releases: [], stemcells: [], locked: false },
  ]);
  assert.deepEqual((await director.request('GET', '/deployments/nginx/vms')).json(), []);
  assert.deepEqual((await director.request('GET', '/deployments/nginx/instances')).json(), []);

  const noName = await director.request('POST', '/deployments', { headers: { 'content-type': 'text/yaml' }, body: 'releases: []\n' });
  assert.equal(noName.status, 400);
  assert.equal(noName.json().code, 440001);

  const del = await director.waitForTask(taskIdFrom(await director.request('DELETE', '/deployments/nginx')));
  assert.equal(del.state, 'done');
  assert.equal(del.description, 'delete deployment nginx');
  assert.deepEqual((await director.request('GET', '/deployments')).json(), []);
});

test('the vms list reads instances and VMs from the DB', async () => {
  const { db } = director.director;
  const dep = await db.insertInto('deployments').values({ name: 'web', manifest_text: 'name: web\n', cloud_config_id: null }).returning('id').executeTakeFirstOrThrow();
  const inst = await db
    .insertInto('instances')
    .values({ deployment_id: dep.id, job: 'nginx', index: 0, uuid: 'uuid-0', state: 'started', availability_zone: 'z1', compilation: 0, bootstrap: 1, spec_json: null, update_completed: 1, ignore: 0 })
    .returning('id')
    .executeTakeFirstOrThrow();
  await db.insertInto('instances').values({ deployment_id: dep.id, job: 'nginx', index: 1, uuid: 'uuid-1', state: 'started', availability_zone: 'z1', compilation: 0, bootstrap: 0, spec_json: null, update_completed: 0, ignore: 0 }).execute();
  await db.insertInto('vms').values({ instance_id: inst.id, agent_id: 'agent-0', cid: 'vm-cid-0', active: 1, cpi: '', created_at: '2026-01-01T00:00:00Z', network_spec_json: null, env_json: null, cloud_properties_json: null, stemcell_name: null, stemcell_version: null, stemcell_api_version: null }).execute();
  await db.insertInto('ip_addresses').values({ network_name: 'default', address_str: '10.245.0.10', static: 0, instance_id: inst.id, vm_id: null, task_id: null, created_at: '2026-01-01T00:00:00Z' }).execute();

  assert.deepEqual((await director.request('GET', '/deployments/web/vms')).json(), [
    { agent_id: 'agent-0', cid: 'vm-cid-0', job: 'nginx', index: 0, id: 'uuid-0', az: 'z1', ips: ['10.245.0.10'], vm_created_at: '2026-01-01T00:00:00Z', active: true, permanent_nats_credentials: false },
  ]);
  const instances = (await director.request('GET', '/deployments/web/instances')).json();
  assert.deepEqual(instances.map((i: any) => [i.id, i.cid, i.expects_vm]), [['uuid-0', 'vm-cid-0', true], ['uuid-1', null, true]]);

  const full = await director.request('GET', '/deployments/web/vms?format=full');
  const task = (await director.request('GET', `/tasks/${taskIdFrom(full)}`)).json();
  assert.equal(task.description, 'retrieve vm-stats');
});

test('errand runs become run_errand tasks', async () => {
  const res = await director.request('POST', '/deployments/web/errands/smoke-test/runs', {
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ 'keep-alive': true, 'when-changed': false, instances: [] }),
  });
  const task = (await director.request('GET', `/tasks/${taskIdFrom(res)}`)).json();
  assert.equal(task.description, 'run errand smoke-test from deployment web');
  const payload = JSON.parse((await director.director.db.selectFrom('tasks').select('payload_json').where('id', '=', task.id).executeTakeFirstOrThrow()).payload_json);
  assert.deepEqual(payload, { deployment_name: 'web', errand_name: 'smoke-test', keep_alive: true, when_changed: false, instances: [] });
});
