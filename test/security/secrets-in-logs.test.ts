// After a real `capstan up` (dummy CPI) and a deploy with a generated password and a generated
// certificate, no secret of the environment appears in any log file it produced: the admin and
// blobstore passwords (the director's and each VM's own), every private key (environment certs and the agents' mbus certs), and the
// generated variable values. Logs: $CAPSTAN_HOME/logs/*, task debug logs, and agent/job logs of
// the dummy VMs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { dummyEnvironmentSkip, startDummyEnvironment, writeReleaseDir, type DummyEnvironment } from '../support/dummy-env.js';

const skip = dummyEnvironmentSkip;
let env: DummyEnvironment;
let root: string;

const dir = '<%= p("root") %>/<%= spec.id %>';
const VAULT = {
  name: 'vault',
  spec: { properties: { root: {}, password: {}, 'tls.private_key': {} }, templates: { 'ctl.erb': 'bin/ctl', 'pre-start.erb': 'bin/pre-start', 'secret.conf.erb': 'config/secret.conf' } },
  monit: ['check process vault', `  with pidfile ${dir}/pid`, `  start program "${dir}/ctl start"`, `  stop program "${dir}/ctl stop"`, '  group vcap', ''].join('\n'),
  templates: {
    // VMs are local processes here: pre-start puts ctl and the rendered config where monit finds them
    'pre-start.erb': ['#!/bin/bash', 'set -e', `R=${dir}`, 'mkdir -p $R', 'cp "$(dirname "$0")/ctl" $R/ctl', 'chmod 755 $R/ctl', 'cp "$(dirname "$0")/../config/secret.conf" $R/secret.conf', ''].join('\n'),
    // the rendered config (the job's own file) is where the test reads the generated values back
    'secret.conf.erb': 'password=<%= p("password") %>\n<%= p("tls.private_key") %>',
    'ctl.erb': [
      '#!/bin/bash', `R=${dir}`, 'case "$1" in',
      '  start) setsid sleep 100000 </dev/null >/dev/null 2>&1 & echo $! > $R/pid ;;',
      '  stop) kill "$(cat $R/pid)" 2>/dev/null; rm -f $R/pid ;;', 'esac', '',
    ].join('\n'),
  },
};

function files(top: string): string[] {
  if (!existsSync(top)) return [];
  return readdirSync(top).flatMap((name) => {
    const path = join(top, name);
    const stat = lstatSync(path);
    if (stat.isDirectory()) return files(path);
    return stat.isFile() ? [path] : [];
  });
}

/** Distinctive lines of every PEM private key in the text (a reformatted key still shares them). */
function privateKeyLines(text: string): string[] {
  const keys = text.replace(/\\n/g, '\n').match(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g) ?? [];
  return keys.flatMap((key) => key.split('\n').filter((line) => /^[A-Za-z0-9+/]{40,}$/.test(line)).slice(1, 4));
}

before(async () => {
  if (skip) return;
  // debug logging in every process started from here (director, monitor, agents): redaction must hold there too
  process.env.CAPSTAN_LOG_LEVEL = 'debug';
  env = await startDummyEnvironment('capstan-secrets');
  root = join(env.home, 'jobs-root');
  mkdirSync(root);
  const releaseDir = writeReleaseDir(join(env.work, 'release'), 'vault', [VAULT]);
  const tarball = join(env.work, 'vault.tgz');
  await env.capstanOk('create-release', '--dir', releaseDir, '--version', '1', '--tarball', tarball, '--force');
  await env.capstanOk('upload-release', tarball);
  const cloudConfig = join(env.work, 'cloud-config.yml');
  writeFileSync(cloudConfig, stringify({
    azs: [{ name: 'z1' }],
    vm_types: [{ name: 'default' }],
    networks: [{ name: 'default', type: 'manual', subnets: [{ range: '10.244.5.0/24', gateway: '10.244.5.1', az: 'z1', reserved: ['10.244.5.1 - 10.244.5.9'] }] }],
    compilation: { workers: 1, network: 'default', az: 'z1', vm_type: 'default' },
  }));
  await env.capstanOk('update-cloud-config', cloudConfig);
  const manifest = join(env.work, 'manifest.yml');
  writeFileSync(manifest, stringify({
    name: 'secrets',
    releases: [{ name: 'vault', version: 'latest' }],
    stemcells: [{ alias: 'default', os: 'debian-bookworm', version: 'latest' }],
    update: { canaries: 1, max_in_flight: 1, canary_watch_time: '1000-20000', update_watch_time: '1000-20000' },
    variables: [
      { name: 'vault_password', type: 'password' },
      { name: 'vault_ca', type: 'certificate', options: { is_ca: true, common_name: 'vault-ca' } },
      { name: 'vault_tls', type: 'certificate', options: { ca: 'vault_ca', common_name: 'vault' } },
    ],
    instance_groups: [{
      name: 'vault', instances: 1, azs: ['z1'], vm_type: 'default', stemcell: 'default', networks: [{ name: 'default' }],
      jobs: [{ name: 'vault', release: 'vault' }],
      properties: { root, password: '((vault_password))', tls: { private_key: '((vault_tls.private_key))' } },
    }],
  }));
  await env.capstanOk('-d', 'secrets', 'deploy', manifest);
  await env.capstanOk('-d', 'secrets', 'instances', '--details');
});

after(async () => {
  if (skip || !env) return;
  await env.capstan('-d', 'secrets', 'delete-deployment', '--force');
  await env.stop();
});

test('no generated secret of the environment or the deployment appears in any log file', { skip }, () => {
  const home = env.home;
  const directorConfig = JSON.parse(readFileSync(join(home, 'director', 'config.json'), 'utf8'));
  const envFile = JSON.parse(readFileSync(join(home, 'env.json'), 'utf8'));
  const rendered = files(root).filter((f) => f.endsWith('secret.conf'));
  assert.equal(rendered.length, 1, 'the job rendered its secrets');
  const renderedText = readFileSync(rendered[0], 'utf8');
  const generatedPassword = /^password=(.+)$/m.exec(renderedText)?.[1] ?? '';
  assert.ok(generatedPassword.length >= 16, 'a generated password was rendered');

  const secrets = new Map<string, string>([
    ['admin password', envFile.client_secret],
    ['blobstore password', directorConfig.blobstore.server.password],
    ['generated variable vault_password', generatedPassword],
    ['basic credential header', Buffer.from(`admin:${envFile.client_secret}`).toString('base64')],
  ]);
  privateKeyLines(renderedText).forEach((line, i) => secrets.set(`generated vault_tls private key line ${i}`, line));
  for (const keyFile of files(join(home, 'certs')).filter((f) => f.endsWith('.key'))) {
    privateKeyLines(readFileSync(keyFile, 'utf8')).forEach((line, i) => secrets.set(`${keyFile} line ${i}`, line));
  }
  // the agents' mbus certificates were issued at create_vm and live only in the VMs' settings
  const vmFiles = files(join(home, 'dummy'));
  let agentKeys = 0;
  for (const file of vmFiles.filter((f) => /settings|env\.json|agent.*\.json$/i.test(f) && lstatSync(f).size < 1_000_000)) {
    privateKeyLines(readFileSync(file, 'utf8')).forEach((line, i) => {
      secrets.set(`${file} line ${i}`, line);
      agentKeys++;
    });
  }
  assert.ok(agentKeys > 0, 'the agents’ mbus private keys were found in their settings');
  // and each VM's own blobstore credential (env.bosh.blobstores), issued at create_vm
  let agentBlobPasswords = 0;
  for (const file of vmFiles.filter((f) => /settings.*\.json$|env\.json$/i.test(f) && lstatSync(f).size < 1_000_000)) {
    const text = readFileSync(file, 'utf8');
    for (const [, user, password] of text.matchAll(/"user":\s*"(agent-[^"]+)",\s*"password":\s*"([^"]+)"/g)) {
      secrets.set(`blobstore password of ${user} (${file})`, password);
      agentBlobPasswords++;
    }
  }
  assert.ok(agentBlobPasswords > 0, 'the agents’ blobstore credentials were found in their settings');
  for (const [what, value] of secrets) assert.ok(value && value.length >= 16, `${what} is a real secret`);

  const logs = [
    ...files(join(home, 'logs')),
    ...files(join(home, 'director', 'tasks')),
    ...vmFiles.filter((f) => /\/(log|logs|sys\/log)\//.test(f) || /\.log(\.\d+)?$/.test(f)),
  ];
  assert.ok(logs.some((f) => f.endsWith('director.log')) && logs.some((f) => /tasks\/\d+\/debug$/.test(f)), `logs found: ${logs.join(', ')}`);
  if (process.env.SECRETS_DEBUG) console.log([...secrets.keys()].join('\n'), '\n--\n', logs.map((l) => `${l} ${lstatSync(l).size}`).join('\n'));
  const leaks: string[] = [];
  for (const log of logs) {
    const text = readFileSync(log, 'utf8');
    for (const [what, value] of secrets) if (text.includes(value)) leaks.push(`${what} in ${log}`);
  }
  assert.deepEqual(leaks, [], `secrets leaked into logs (${logs.length} files checked)`);
});
