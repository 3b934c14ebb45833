// Issue 4 acceptance with the dummy CPI, driven through the `capstan` CLI: the real director process,
// real nats-server (mutual TLS), agents as local processes each with the real monit, real Ruby.
// A two-group deployment whose client consumes the server's link and whose server gets a generated
// certificate; a no-op redeploy; a property change restarting only the affected group; scaling
// 3 -> 5 -> 2; a failing canary stopping the rollout with BOSH's error text.
//
// Jobs keep their state below a root directory the test owns (a property): their pre-start copies
// ctl and config there, ctl starts a `sleep` whose pid monit watches, so restarts show as new pids.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';
import { stringify } from 'yaml';
import { dummyEnvironmentSkip, startDummyEnvironment, writeReleaseDir, type DummyEnvironment } from '../../support/dummy-env.js';

const skip = dummyEnvironmentSkip;
let env: DummyEnvironment;
let root: string;

function job(name: string, spec: Record<string, unknown>, config: Record<string, string>) {
  const dir = `<%= p("root") %>/<%= spec.id %>/${name}`;
  return {
    name,
    spec: {
      ...spec,
      templates: { 'ctl.erb': 'bin/ctl', 'pre-start.erb': 'bin/pre-start', ...Object.fromEntries(Object.keys(config).map((f) => [`${f}.erb`, `config/${f}`])) },
    },
    monit: [`check process ${name}`, `  with pidfile ${dir}/pid`, `  start program "${dir}/ctl start"`, `  stop program "${dir}/ctl stop"`, '  group vcap', ''].join('\n'),
    templates: {
      'pre-start.erb': ['#!/bin/bash', 'set -e', `R=${dir}`, 'mkdir -p $R', 'cp "$(dirname "$0")/ctl" $R/ctl', 'chmod 755 $R/ctl', 'rm -rf $R/config', 'cp -r "$(dirname "$0")/../config" $R/config', ''].join('\n'),
      'ctl.erb': [
        '#!/bin/bash', `R=${dir}`, 'case "$1" in',
        '  start) <% if p("fail") %>exit 0<% else %>setsid sleep 100000 </dev/null >/dev/null 2>&1 & echo $! > $R/pid<% end %> ;;',
        '  stop) kill "$(cat $R/pid)" 2>/dev/null; rm -f $R/pid ;;', 'esac', '',
      ].join('\n'),
      ...Object.fromEntries(Object.entries(config).map(([f, content]) => [`${f}.erb`, content])),
    },
  };
}

const SERVER = job('server', {
  properties: { root: {}, fail: { default: false }, port: { default: 5432 }, password: {}, motd: { default: 'hi' }, 'tls.certificate': {}, 'tls.ca': {} },
  provides: [{ name: 'conn', type: 'db-conn', properties: ['port', 'password'] }],
}, {
  'server.conf': 'port=<%= p("port") %>\nmotd=<%= p("motd") %>\n',
  'tls.pem': '<%= p("tls.certificate") %><%= p("tls.ca") %>',
});

const CLIENT = job('client', {
  properties: { root: {}, fail: { default: false } },
  consumes: [{ name: 'conn', type: 'db-conn' }],
}, {
  'client.conf': '<% c = link("conn") %>servers=<%= c.instances.map(&:address).join(",") %>\nport=<%= c.p("port") %>\npassword=<%= c.p("password") %>\n',
});

function manifest(options: { clients?: number; motd?: string; clientFail?: boolean } = {}): string {
  const group = (name: string, instances: number, properties: Record<string, unknown>) => ({
    name, instances, azs: ['z1', 'z2'], vm_type: 'default', stemcell: 'default', networks: [{ name: 'default' }],
    jobs: [{ name, release: 'accept' }], properties: { root, ...properties },
  });
  return stringify({
    name: 'app',
    releases: [{ name: 'accept', version: 'latest' }],
    stemcells: [{ alias: 'default', os: 'debian-bookworm', version: 'latest' }],
    update: { canaries: 1, max_in_flight: 2, canary_watch_time: '1000-20000', update_watch_time: '1000-20000' },
    variables: [
      { name: 'db_password', type: 'password' },
      { name: 'app_ca', type: 'certificate', options: { is_ca: true, common_name: 'app-ca' } },
      { name: 'server_tls', type: 'certificate', options: { ca: 'app_ca', common_name: 'server.app', alternative_names: ['server.app', '10.244.1.10'], extended_key_usage: ['server_auth'] } },
    ],
    instance_groups: [
      group('server', 2, { password: '((db_password))', motd: options.motd ?? 'hi', tls: { certificate: '((server_tls.certificate))', ca: '((server_tls.ca))' } }),
      group('client', options.clients ?? 3, { fail: options.clientFail ?? false }),
    ],
  });
}

async function deploy(options: Parameters<typeof manifest>[0] = {}) {
  const path = join(env.work, 'manifest.yml');
  writeFileSync(path, manifest(options));
  return env.capstan('-d', 'app', 'deploy', path);
}

/** `{<instance uuid>: pid}` of the job's running processes, from the pid files below root. */
function pids(jobName: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const id of readdirSync(root)) {
    const pidFile = join(root, id, jobName, 'pid');
    if (existsSync(pidFile)) result[id] = readFileSync(pidFile, 'utf8').trim();
  }
  return result;
}

const alive = (pid: string) => {
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch {
    return false;
  }
};

async function instances(): Promise<Array<{ job: string; id: string; az: string; ips: string[] }>> {
  const client = env.client();
  try {
    return JSON.parse((await client.request('GET', '/deployments/app/instances')).body.toString('utf8'));
  } finally {
    client.close();
  }
}

before(async () => {
  if (skip) return;
  env = await startDummyEnvironment('capstan-deploy-accept');
  root = join(env.home, 'jobs-root');
  mkdirSync(root);
  const releaseDir = writeReleaseDir(join(env.work, 'release'), 'accept', [SERVER, CLIENT]);
  const tarball = join(env.work, 'accept.tgz');
  await env.capstanOk('create-release', '--dir', releaseDir, '--version', '1', '--tarball', tarball, '--force');
  await env.capstanOk('upload-release', tarball);
  const cloudConfig = join(env.work, 'cloud-config.yml');
  writeFileSync(cloudConfig, stringify({
    azs: [{ name: 'z1' }, { name: 'z2' }],
    vm_types: [{ name: 'default' }],
    networks: [{
      name: 'default', type: 'manual',
      subnets: [
        { range: '10.244.1.0/24', gateway: '10.244.1.1', az: 'z1', reserved: ['10.244.1.1 - 10.244.1.9'] },
        { range: '10.244.2.0/24', gateway: '10.244.2.1', az: 'z2', reserved: ['10.244.2.1 - 10.244.2.9'] },
      ],
    }],
    compilation: { workers: 1, network: 'default', az: 'z1', vm_type: 'default' },
  }));
  await env.capstanOk('update-cloud-config', cloudConfig);
});

after(async () => {
  if (skip || !env) return;
  await env.capstan('-d', 'app', 'delete-deployment', '--force');
  // the jobs' sleeps were stopped by monit; anything left over is ours, by pid
  for (const pid of [...Object.values(pids('server')), ...Object.values(pids('client'))]) if (alive(pid)) process.kill(Number(pid));
  await env.stop();
});

test('two groups: the client consumes the server link, the server gets a generated certificate', { skip }, async () => {
  const result = await deploy();
  assert.equal(result.status, 0, result.stdout + result.stderr);
  const list = await instances();
  const servers = list.filter((i) => i.job === 'server');
  const clients = list.filter((i) => i.job === 'client');
  assert.deepEqual(servers.map((s) => s.az), ['z1', 'z2']);
  assert.deepEqual(clients.map((c) => c.az), ['z1', 'z2', 'z1']);
  assert.equal(Object.values(pids('server')).filter(alive).length, 2);
  assert.equal(Object.values(pids('client')).filter(alive).length, 3);

  const conf = readFileSync(join(root, clients[2].id, 'client', 'config', 'client.conf'), 'utf8');
  assert.match(conf, new RegExp(`^servers=${servers.map((s) => s.ips[0].replaceAll('.', '\\.')).join(',')}$`, 'm'));
  assert.match(conf, /^port=5432$/m);
  assert.match(conf, /^password=[a-z0-9]{20}$/m);

  const pems = readFileSync(join(root, servers[0].id, 'server', 'config', 'tls.pem'), 'utf8').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)!;
  const [cert, ca] = pems.map((p) => forge.pki.certificateFromPem(p));
  assert.ok(ca.verify(cert));
  assert.equal(cert.subject.getField('CN').value, 'server.app');

  const client = env.client();
  try {
    const variables = JSON.parse((await client.request('GET', '/deployments/app/variables')).body.toString('utf8')) as Array<{ name: string }>;
    assert.deepEqual(variables.map((v) => v.name).sort(), ['app_ca', 'db_password', 'server_tls']);
  } finally {
    client.close();
  }
});

test('a no-op redeploy touches nothing', { skip }, async () => {
  const before = { ...pids('server'), ...pids('client') };
  const result = await deploy();
  assert.equal(result.status, 0, result.stdout + result.stderr);
  assert.doesNotMatch(result.stdout, /Updating instance/);
  assert.deepEqual({ ...pids('server'), ...pids('client') }, before);
});

test('a property change restarts only the affected instances', { skip }, async () => {
  const servers = pids('server');
  const clients = pids('client');
  const result = await deploy({ motd: 'changed' });
  assert.equal(result.status, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /Updating instance server/);
  assert.doesNotMatch(result.stdout, /Updating instance client/);
  const after = pids('server');
  for (const id of Object.keys(servers)) assert.notEqual(after[id], servers[id], `server ${id} restarted`);
  assert.deepEqual(pids('client'), clients);
});

test('scaling the client group 3 -> 5 -> 2', { skip }, async () => {
  let result = await deploy({ motd: 'changed', clients: 5 });
  assert.equal(result.status, 0, result.stdout + result.stderr);
  let clients = (await instances()).filter((i) => i.job === 'client');
  assert.deepEqual(clients.map((c) => c.az), ['z1', 'z2', 'z1', 'z2', 'z1']);
  assert.equal(Object.values(pids('client')).filter(alive).length, 5);

  result = await deploy({ motd: 'changed', clients: 2 });
  assert.equal(result.status, 0, result.stdout + result.stderr);
  clients = (await instances()).filter((i) => i.job === 'client');
  assert.equal(clients.length, 2);
  const running = Object.entries(pids('client')).filter(([, pid]) => alive(pid)).map(([id]) => id).sort();
  assert.deepEqual(running, clients.map((c) => c.id).sort());
});

test('a failing canary stops the rollout with the BOSH error text', { skip }, async () => {
  const result = await deploy({ motd: 'changed', clients: 2, clientFail: true });
  assert.notEqual(result.status, 0);
  const output = result.stdout + result.stderr;
  const canary = (await instances()).find((i) => i.job === 'client')!;
  assert.match(output, new RegExp(`'client/${canary.id} \\(0\\)' is not running after update\\. Review logs for failed jobs: client`));
  assert.doesNotMatch(output, /client\/[0-9a-f-]+ \(1\)/, 'the second client was not touched');
});
