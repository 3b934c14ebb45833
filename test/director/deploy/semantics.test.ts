// Deploy semantics over the seams (real SQLite, real Ruby templates, in-memory agents and CPI): links
// between groups, director-generated variables, per-instance change plans, scaling with AZ balance,
// deploy flags (--recreate, --skip-drain, --canaries, --max-in-flight, --dry-run) and post-deploy.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { extract as extractTar } from 'tar';
import { stringify } from 'yaml';
import type { ApplySpec } from '../../../src/common/protocol.js';
import { taskJobs } from '../../../src/director/deploy/jobs.js';
import { listVariables } from '../../../src/director/deploy/variables.js';
import { sharedTemplateWorker } from '../../../src/director/templates/ruby-worker.js';
import { testDirector, type TestDirector } from './support.js';
import { FakeAgents, RecordingEventLog, fakeTask } from './fakes.js';
import { seedRelease, seedStemcellAndCloudConfig } from './release-fixture.js';

let director: TestDirector;
let work: string;

const CLOUD_CONFIG = `
azs: [{name: z1}, {name: z2}]
vm_types: [{name: default}]
networks:
- name: default
  type: manual
  subnets:
  - {range: 10.0.1.0/24, gateway: 10.0.1.1, az: z1, reserved: [10.0.1.1 - 10.0.1.9]}
  - {range: 10.0.2.0/24, gateway: 10.0.2.1, az: z2, reserved: [10.0.2.1 - 10.0.2.9]}
compilation: {workers: 1, network: default, az: z1, vm_type: default}
`;

const SERVER = {
  spec: {
    name: 'server',
    templates: { 'config.erb': 'config/server.conf', 'tls.pem.erb': 'config/tls.pem' },
    packages: [],
    properties: { port: { default: 5432 }, password: {}, motd: { default: 'hello' }, 'tls.certificate': {}, 'tls.ca': {} },
    provides: [{ name: 'conn', type: 'db-conn', properties: ['port', 'password'] }],
  },
  files: {
    'config.erb': 'port=<%= p("port") %>\npassword=<%= p("password") %>\nmotd=<%= p("motd") %>\nid=<%= spec.id %>\n',
    'tls.pem.erb': '<%= p("tls.certificate") %><%= p("tls.ca") %>',
  },
};

const CLIENT = {
  spec: {
    name: 'client',
    templates: { 'client.erb': 'config/client.conf' },
    packages: [],
    properties: {},
    consumes: [{ name: 'conn', type: 'db-conn' }, { name: 'cache', type: 'cache', optional: true }],
  },
  files: {
    'client.erb': [
      '<% conn = link("conn") -%>',
      'servers=<%= conn.instances.map { |i| "#{i.address}/#{i.az}/#{i.index}" }.join(",") %>',
      'port=<%= conn.p("port") %> password=<%= conn.p("password") %> address=<%= conn.address %>',
      'timeout=<%= conn.p("timeout", 30) %>',
      '<% if_link("cache") do |c| -%>cache=yes<% end.else do -%>cache=none<% end -%>',
      '',
    ].join('\n'),
  },
};

function manifest(overrides: { web?: number; db?: number; motd?: string; port?: number; extra?: Record<string, unknown>; update?: Record<string, unknown> } = {}) {
  return stringify({
    name: 'app',
    releases: [{ name: 'app', version: 'latest' }],
    stemcells: [{ alias: 'default', os: 'debian-bookworm', version: 'latest' }],
    update: { canaries: 1, max_in_flight: 2, canary_watch_time: 10, update_watch_time: 10, ...(overrides.update ?? {}) },
    variables: [
      { name: 'db_password', type: 'password' },
      { name: 'ca', type: 'certificate', options: { is_ca: true, common_name: 'app-ca' } },
      { name: 'db_tls', type: 'certificate', options: { ca: 'ca', common_name: 'db.app.internal', alternative_names: ['db.app.internal', '10.0.1.10'], extended_key_usage: ['server_auth', 'client_auth'] } },
      { name: 'deploy_key', type: 'ssh' },
    ],
    instance_groups: [
      {
        name: 'db', instances: overrides.db ?? 2, azs: ['z1', 'z2'], vm_type: 'default', stemcell: 'default', networks: [{ name: 'default' }],
        jobs: [{ name: 'server', release: 'app', properties: { password: '((db_password))', motd: overrides.motd ?? 'hello', ...(overrides.port ? { port: overrides.port } : {}), tls: { certificate: '((db_tls.certificate))', ca: '((db_tls.ca))' } } }],
      },
      {
        name: 'web', instances: overrides.web ?? 3, azs: ['z1', 'z2'], vm_type: 'default', stemcell: 'default', networks: [{ name: 'default' }],
        jobs: [{ name: 'client', release: 'app' }],
      },
      ...(overrides.extra ? [overrides.extra] : []),
    ],
  });
}

async function deploy(text: string, options: Record<string, unknown> = {}) {
  const events = new RecordingEventLog();
  const task = fakeTask(events);
  await taskJobs.update_deployment(director, task, { deployment_name: 'app', manifest_text: text, ...options });
  return events;
}

/** The rendered file of the instance's latest apply. */
async function renderedFile(agentId: string, path: string): Promise<string> {
  const apply = director.agents.calls.filter((c) => c.method === 'apply' && c.agentId === agentId && (c.args[0] as ApplySpec).rendered_templates_archive).at(-1)!;
  const archive = (apply.args[0] as ApplySpec).rendered_templates_archive!;
  const dir = await mkdtemp(join(work, 'r-'));
  await director.blobstore.get(archive.blobstore_id, join(dir, 'r.tgz'));
  await mkdir(join(dir, 'x'));
  await extractTar({ file: join(dir, 'r.tgz'), cwd: join(dir, 'x') });
  return readFile(join(dir, 'x', path), 'utf8');
}

async function instances(group: string) {
  return director.db.selectFrom('instances').selectAll().where('job', '=', group).orderBy('index').execute();
}

async function agentOf(instanceId: number): Promise<string> {
  return (await director.db.selectFrom('vms').select('agent_id').where('instance_id', '=', instanceId).where('active', '=', 1).executeTakeFirstOrThrow()).agent_id;
}

const updated = (events: RecordingEventLog) =>
  events.lines.filter((l) => l.startsWith('Updating instance') && l.endsWith('| started')).map((l) => l.split(' | ')[1].replace(/\/[0-9a-f-]{36}/, '').replace(' (canary)', ''));

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'capstan-semantics-'));
  director = await testDirector(new FakeAgents());
  await seedRelease(director, work, 'app', '1', [SERVER, CLIENT]);
  await seedStemcellAndCloudConfig(director, CLOUD_CONFIG);
});
after(async () => {
  await director.cleanup();
  await rm(work, { recursive: true, force: true });
  await sharedTemplateWorker().close();
});

test('two groups: links carry the provider instances and properties, generated variables fill the manifest', async () => {
  await deploy(manifest());
  const db = await instances('db');
  const web = await instances('web');
  assert.deepEqual(db.map((i) => i.availability_zone), ['z1', 'z2']);
  assert.deepEqual(web.map((i) => i.availability_zone), ['z1', 'z2', 'z1']);

  const serverConf = await renderedFile(await agentOf(db[0].id), 'server/config/server.conf');
  const password = /password=(\S+)/.exec(serverConf)![1];
  assert.match(password, /^[a-z0-9]{20}$/);

  const clientConf = await renderedFile(await agentOf(web[1].id), 'client/config/client.conf');
  assert.match(clientConf, /^servers=10\.0\.1\.10\/z1\/0,10\.0\.2\.10\/z2\/1$/m);
  assert.match(clientConf, new RegExp(`^port=5432 password=${password} address=10\\.0\\.1\\.10$`, 'm'));
  assert.match(clientConf, /^timeout=30$/m);
  assert.match(clientConf, /^cache=none$/m);

  // the certificate: signed by the generated CA, with the SANs and extended key usages asked for
  const pems = (await renderedFile(await agentOf(db[0].id), 'server/config/tls.pem')).match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)!;
  const [cert, ca] = pems.map((p) => forge.pki.certificateFromPem(p));
  assert.equal(cert.subject.getField('CN').value, 'db.app.internal');
  assert.equal(ca.subject.getField('CN').value, 'app-ca');
  assert.ok(ca.verify(cert), 'signed by the CA variable');
  const san = cert.getExtension('subjectAltName') as { altNames: Array<{ value?: string; ip?: string }> };
  assert.deepEqual(san.altNames.map((n) => n.ip ?? n.value), ['db.app.internal', '10.0.1.10']);
  const eku = cert.getExtension('extKeyUsage') as Record<string, boolean>;
  assert.ok(eku.serverAuth && eku.clientAuth);

  // stored encrypted, with the key in a file outside the database
  const rows = await director.db.selectFrom('deployment_variables').selectAll().execute();
  assert.deepEqual(rows.map((r) => r.name).sort(), ['ca', 'db_password', 'db_tls', 'deploy_key']);
  for (const row of rows) assert.ok(!row.value_encrypted.includes(password) && !row.value_encrypted.includes('BEGIN'), `${row.name} is not stored in clear`);
  assert.ok(existsSync(join(director.config.base_dir, 'variables.key')));
  const deployment = await director.db.selectFrom('deployments').select('id').where('name', '=', 'app').executeTakeFirstOrThrow();
  assert.deepEqual((await listVariables(director.db, deployment.id)).map((v) => v.name), ['ca', 'db_password', 'db_tls', 'deploy_key']);
});

test('a no-op redeploy touches nothing and keeps every variable value', async () => {
  const before = director.agents.calls.length;
  const cpiCalls = director.cpi.deleted.length;
  const events = await deploy(manifest());
  assert.deepEqual(updated(events), []);
  // the only agent calls: get_state, checking every existing VM answers before the deploy (--fix)
  assert.deepEqual(director.agents.calls.slice(before).filter((c) => c.method !== 'get_state'), [], 'no agent was changed');
  assert.equal(director.cpi.deleted.length, cpiCalls);
});

test('a property change restarts only the instances whose templates change', async () => {
  const before = director.agents.calls.length;
  const events = await deploy(manifest({ motd: 'changed' }));
  assert.deepEqual(updated(events), ['db (0)', 'db (1)']);
  const db = await instances('db');
  assert.match(await renderedFile(await agentOf(db[1].id), 'server/config/server.conf'), /^motd=changed$/m);
  // post-deploy ran on every instance after the change
  const postDeploys = director.agents.calls.slice(before).filter((c) => c.method === 'run_script' && c.args[0] === 'post-deploy');
  assert.equal(postDeploys.length, 5);
});

test('scaling web 3 -> 5 -> 2 keeps ids, balances AZs and deletes the highest indexes', async () => {
  const original = (await instances('web')).map((i) => i.uuid);
  await deploy(manifest({ motd: 'changed', web: 5 }));
  let web = await instances('web');
  assert.deepEqual(web.map((i) => i.uuid).slice(0, 3), original);
  assert.deepEqual(web.map((i) => i.availability_zone), ['z1', 'z2', 'z1', 'z2', 'z1']);
  assert.equal(director.cpi.vms.size, 7);

  const events = await deploy(manifest({ motd: 'changed', web: 2 }));
  web = await instances('web');
  assert.deepEqual(web.map((i) => i.uuid), original.slice(0, 2));
  assert.equal(director.cpi.vms.size, 4);
  assert.equal(events.lines.filter((l) => l.startsWith('Deleting unneeded instances') && l.endsWith('| finished')).length, 3);
  assert.deepEqual(updated(events), [], 'the remaining instances are untouched');
});

test('--dry-run plans and renders but creates and updates nothing', async () => {
  const before = director.agents.calls.length;
  const rows = (await director.db.selectFrom('instances').selectAll().execute()).length;
  const events = await deploy(manifest({ motd: 'dry', web: 4 }), { dry_run: true });
  assert.ok(events.lines.some((l) => l.startsWith('Preparing deployment | Rendering templates | finished')));
  assert.equal(director.agents.calls.length, before);
  assert.equal((await director.db.selectFrom('instances').selectAll().execute()).length, rows);
  assert.equal(director.cpi.vms.size, 4);
});

test('--recreate replaces every VM; --skip-drain skips pre-stop and drain', async () => {
  const oldCids = [...director.cpi.vms.keys()];
  const before = director.agents.calls.length;
  const events = await deploy(manifest({ motd: 'changed', web: 2 }), { recreate: true, skip_drain: 'web', max_in_flight: '100%', canaries: '0' });
  assert.deepEqual(updated(events).sort(), ['db (0)', 'db (1)', 'web (0)', 'web (1)']);
  assert.ok(oldCids.every((cid) => !director.cpi.vms.has(cid)), 'every VM replaced');
  const calls = director.agents.calls.slice(before);
  const drains = calls.filter((c) => c.method === 'drain');
  assert.equal(drains.length, 2, 'only db drains');
  assert.ok(drains.every((c) => c.args[0] === 'shutdown'));
  assert.ok(!events.lines.some((l) => l.includes('(canary)')), '--canaries 0');
});

test('explicit `from` picks one of several providers; ambiguity and absence fail naming the link', async () => {
  const backup = {
    name: 'backup', instances: 1, azs: ['z2'], vm_type: 'default', stemcell: 'default', networks: [{ name: 'default' }],
    jobs: [{ name: 'server', release: 'app', properties: { password: 'static', port: 6000, tls: { certificate: 'x', ca: 'y' } }, provides: { conn: { as: 'backup-conn' } } }],
  };
  await assert.rejects(deploy(manifest({ web: 2, motd: 'changed', extra: backup })), (err: Error) => {
    assert.match(err.message, /^Failed to resolve links from deployment 'app'\. Errors are:/);
    assert.match(err.message, /Failed to resolve link 'conn' with type 'db-conn' from job 'client' in instance group 'web'/);
    assert.match(err.message, /Multiple link providers found/);
    return true;
  });

  const text = manifest({ web: 2, motd: 'changed', extra: backup }).replace("- name: client\n        release: app", "- name: client\n        release: app\n        consumes:\n          conn: {from: backup-conn}");
  assert.match(text, /from: backup-conn/);
  await deploy(text);
  const web = await instances('web');
  const conf = await renderedFile(await agentOf(web[0].id), 'client/config/client.conf');
  assert.match(conf, /^servers=10\.0\.2\.\d+\/z2\/0$/m);
  assert.match(conf, /^port=6000 password=static /m);

  const missing = text.replace('from: backup-conn', 'from: nowhere');
  await assert.rejects(deploy(missing), /No link providers found with alias 'nowhere'/);
});

test('a failing canary stops the rollout with the BOSH error text', async () => {
  const web = await instances('web');
  const canaryAgent = await agentOf(web[0].id);
  director.agents.behaviour.get_state = (agentId) => agentId === canaryAgent
    ? { job_state: 'failing', processes: [{ name: 'client', state: 'failing' }, { name: 'helper', state: 'running' }] }
    : { job_state: 'running', processes: [] };
  try {
    // a link property changes: db and then web restart
    const events = new RecordingEventLog();
    await assert.rejects(
      taskJobs.update_deployment(director, fakeTask(events), { deployment_name: 'app', manifest_text: manifest({ web: 2, motd: 'changed', port: 7000 }) }),
      { message: `'web/${web[0].uuid} (0)' is not running after update. Review logs for failed jobs: client` },
    );
    assert.deepEqual(updated(events), ['db (0)', 'db (1)', 'web (0)'], 'no instance after the failed canary');
    assert.ok(events.lines.some((l) => l.includes(`web/${web[0].uuid} (0) (canary) | failed | '`)));
  } finally {
    delete director.agents.behaviour.get_state;
  }
});

test('runtime-config addons add their jobs (and releases) to the groups their rules select', async () => {
  await seedRelease(director, work, 'extras', '1', [{
    spec: { name: 'watcher', templates: { 'w.erb': 'config/w.conf' }, packages: [], properties: { tag: {} } },
    files: { 'w.erb': 'tag=<%= p("tag") %> group=<%= spec.name %>\n' },
  }]);
  const runtime = await director.db.insertInto('configs').values({
    type: 'runtime', name: 'watchers', created_at: new Date().toISOString(), deleted: 0,
    content: stringify({
      releases: [{ name: 'extras', version: 1 }],
      addons: [{ name: 'watch', jobs: [{ name: 'watcher', release: 'extras', properties: { tag: 'hi' } }], include: { instance_groups: ['web', 'db'] }, exclude: { jobs: [{ name: 'server', release: 'app' }] } }],
    }),
  }).returning('id').executeTakeFirstOrThrow();
  try {
    const events = await deploy(manifest({ web: 2, motd: 'changed', port: 7000 }));
    assert.deepEqual(updated(events), ['web (0)', 'web (1)'], 'db is excluded');
    const web = await instances('web');
    assert.equal(await renderedFile(await agentOf(web[1].id), 'watcher/config/w.conf'), 'tag=hi group=web\n');
    const releases = await director.db.selectFrom('deployments_release_versions').selectAll().execute();
    assert.equal(releases.length, 2, 'the addon release is part of the deployment');
  } finally {
    await director.db.updateTable('configs').set({ deleted: 1 }).where('id', '=', runtime.id).execute();
  }
});

test('a shared link is consumed from another deployment', async () => {
  const shared = manifest({ web: 2, motd: 'changed', port: 7000 }).replace("- name: server\n        release: app", "- name: server\n        release: app\n        provides:\n          conn: {shared: true}");
  await deploy(shared);
  const other = stringify({
    name: 'other',
    releases: [{ name: 'app', version: 'latest' }],
    stemcells: [{ alias: 'default', os: 'debian-bookworm', version: 'latest' }],
    update: { canaries: 1, max_in_flight: 1, canary_watch_time: 10, update_watch_time: 10 },
    instance_groups: [{
      name: 'consumer', instances: 1, azs: ['z1'], vm_type: 'default', stemcell: 'default', networks: [{ name: 'default' }],
      jobs: [{ name: 'client', release: 'app', consumes: { conn: { deployment: 'app' } } }],
    }],
  });
  await taskJobs.update_deployment(director, fakeTask(), { deployment_name: 'other', manifest_text: other });
  const [consumer] = await instances('consumer');
  const conf = await renderedFile(await agentOf(consumer.id), 'client/config/client.conf');
  assert.match(conf, /^servers=10\.0\.1\.10\/z1\/0,10\.0\.2\.10\/z2\/1$/m);
  assert.match(conf, /^port=7000 /m);
  await taskJobs.delete_deployment(director, fakeTask(), { deployment_name: 'other', force: false });
});

test('delete_deployment also forgets the variables and provided links', async () => {
  await taskJobs.delete_deployment(director, fakeTask(), { deployment_name: 'app', force: false });
  assert.equal((await director.db.selectFrom('deployment_variables').selectAll().execute()).length, 0);
  assert.equal((await director.db.selectFrom('link_providers').selectAll().execute()).length, 0);
});
