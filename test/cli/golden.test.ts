// Golden tests: the text tables and --json documents of the list commands (bosh v7 layouts),
// through bin/capstan against the fake director. Expected output lives in test/cli/golden/;
// UPDATE_GOLDEN=1 rewrites it (review the diff before keeping it).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PASSWORD, startFakeDirector, T0, USER, type FakeDirector } from './fake-director.js';

const BIN = resolve(import.meta.dirname, '../../bin/capstan');
const GOLDEN = resolve(import.meta.dirname, 'golden');
let fake: FakeDirector;
let home: string;

const vm = (o: Record<string, unknown>) => ({
  vm_cid: 'vm-cid',
  active: true,
  ips: ['10.245.0.2'],
  agent_id: 'agent',
  job_name: 'web',
  index: 0,
  id: 'id',
  az: 'z1',
  job_state: 'running',
  state: 'started',
  vm_type: 'small',
  vm_created_at: '2026-11-21T12:00:00Z',
  disk_cids: [],
  bootstrap: false,
  ignore: false,
  processes: [],
  vitals: null,
  ...o,
});

const VMS = [
  vm({ job_name: 'web', id: 'b2a6c0de-0000-4000-8000-000000000002', index: 1, vm_cid: 'capstan-vm-2', ips: ['10.245.0.3', '10.245.1.3'], az: 'z2' }),
  vm({
    job_name: 'db',
    id: '5f1e4d2c-0000-4000-8000-000000000003',
    vm_cid: 'capstan-vm-3',
    ips: ['10.245.0.4'],
    job_state: 'failing',
    disk_cids: ['disk-1'],
    vitals: {
      cpu: { sys: '1.5', user: '10.2', wait: '0.0' },
      mem: { kb: '1048576', percent: '25' },
      swap: { kb: '0', percent: '0' },
      load: ['0.10', '0.20', '0.30'],
      disk: { system: { percent: '40', inode_percent: '12' }, ephemeral: { percent: '3', inode_percent: '1' } },
      uptime: { secs: 93784 },
    },
    processes: [
      { name: 'postgres', state: 'running', uptime: { secs: 3600 }, mem: { kb: 20480, percent: 2 }, cpu: { total: 1.25 } },
      { name: 'backup', state: 'failing', uptime: { secs: 10 }, mem: { kb: 100, percent: 0.1 }, cpu: { total: 0 } },
    ],
  }),
  vm({
    job_name: 'web',
    id: '0a1b2c3d-0000-4000-8000-000000000001',
    vm_cid: 'capstan-vm-1',
    bootstrap: true,
    processes: [{ name: 'nginx', state: 'running', uptime: { secs: 60 }, mem: { kb: 5000, percent: 0.5 }, cpu: { total: 0.3 } }],
  }),
];
const vmLines = VMS.map((v) => JSON.stringify(v)).join('\n') + '\n';

before(async () => {
  fake = await startFakeDirector();
  home = mkdtempSync(join(tmpdir(), 'capstan-golden-'));
  fake.route('GET', '/deployments/nginx/vms', { id: 40, states: ['done'], events: [], result: vmLines });
  fake.route('GET', '/deployments/nginx/instances', { id: 41, states: ['done'], events: [], result: vmLines });
  fake.respond('GET', '/deployments', [
    { name: 'zookeeper', teams: [], cloud_config: 'latest', releases: [{ name: 'zookeeper', version: '0.0.9' }], stemcells: [{ name: 'capstan-docker-ubuntu-jammy', version: '1.2' }] },
    {
      name: 'nginx',
      teams: ['ops', 'dev'],
      cloud_config: 'outdated',
      releases: [{ name: 'nginx', version: '1.24.0' }, { name: 'bpm', version: '1.2.3' }],
      stemcells: [{ name: 'capstan-docker-ubuntu-jammy', version: '1.2' }],
    },
  ]);
  fake.respond('GET', '/releases', [
    {
      name: 'nginx',
      release_versions: [
        { version: '1.9', commit_hash: 'a1b2c3d', uncommitted_changes: false, currently_deployed: false, job_names: ['nginx'] },
        { version: '1.10', commit_hash: 'e4f5a6b', uncommitted_changes: true, currently_deployed: true, job_names: ['nginx'] },
      ],
    },
    { name: 'bpm', release_versions: [{ version: '0+dev.1', commit_hash: 'non-git', uncommitted_changes: false, currently_deployed: false, job_names: [] }] },
  ]);
  fake.respond('GET', '/stemcells', [
    { name: 'capstan-docker-ubuntu-jammy', operating_system: 'ubuntu-jammy', version: '1.2', cid: 'sha256:abc', cpi: 'docker', deployments: [{ name: 'nginx' }], api_version: 2, id: '1' },
    { name: 'capstan-docker-ubuntu-jammy', operating_system: 'ubuntu-jammy', version: '1.10', cid: 'sha256:def', cpi: '', deployments: [], api_version: 2, id: '2' },
  ]);
  fake.respond('GET', '/tasks', [
    { id: 7, state: 'processing', description: 'create deployment', timestamp: null, started_at: T0 + 60, result: null, user: 'admin', deployment: 'nginx', context_id: '' },
    { id: 12, state: 'error', description: 'create deployment', timestamp: T0 + 30, started_at: T0, result: "Action Failed get_task: Task aborted", user: 'admin', deployment: 'nginx', context_id: '' },
    { id: 5, state: 'done', description: 'create release', timestamp: T0 - 100, started_at: T0 - 160, result: "Created release 'nginx/1.10'", user: 'admin', deployment: null, context_id: '' },
  ]);
  fake.respond('GET', '/events', [
    { id: '4', parent_id: '3', timestamp: T0 + 65, user: 'admin', action: 'create', object_type: 'deployment', object_name: 'nginx', task: '7', deployment: 'nginx', context: { before: {}, after: { releases: ['nginx/1.10'] } } },
    { id: '3', timestamp: T0 + 5, user: 'admin', action: 'create', object_type: 'deployment', object_name: 'nginx', task: '7', deployment: 'nginx', context: {} },
    { id: '5', timestamp: T0 + 70, user: 'health_monitor', action: 'recreate', object_type: 'instance', object_name: 'web/0a1b', task: '8', deployment: 'nginx', instance: 'web/0a1b2c3d-0000-4000-8000-000000000001', error: 'Timed out pinging agent' },
  ]);
});
after(async () => {
  await fake.close();
  rmSync(home, { recursive: true, force: true });
});

function capstan(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      BIN,
      args,
      { env: { PATH: process.env.PATH, CAPSTAN_HOME: home, BOSH_ENVIRONMENT: fake.url, BOSH_CA_CERT: fake.caPath, BOSH_CLIENT: USER, BOSH_CLIENT_SECRET: PASSWORD } },
      (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: stdout.split(fake.url).join('https://director'), stderr }),
    );
  });
}

function golden(name: string, actual: string): void {
  const file = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN || !existsSync(file)) writeFileSync(file, actual);
  assert.equal(actual, readFileSync(file, 'utf8'), `output differs from ${file}`);
}

const CASES: Array<[string, string[]]> = [
  ['vms', ['-d', 'nginx', 'vms']],
  ['vms-vitals', ['-d', 'nginx', 'vms', '--vitals']],
  ['instances', ['-d', 'nginx', 'instances']],
  ['instances-ps', ['-d', 'nginx', 'instances', '--ps']],
  ['instances-details', ['-d', 'nginx', 'instances', '--details']],
  ['instances-failing', ['-d', 'nginx', 'instances', '--ps', '--failing']],
  ['deployments', ['deployments']],
  ['releases', ['releases']],
  ['stemcells', ['stemcells']],
  ['tasks', ['tasks', '--recent']],
  ['events', ['events']],
];

for (const [name, args] of CASES) {
  test(`${name}: table`, async () => {
    const { code, stdout, stderr } = await capstan(args);
    assert.equal(code, 0, stderr);
    golden(`${name}.txt`, stdout);
  });
}

for (const name of ['vms', 'instances', 'deployments', 'releases', 'stemcells', 'tasks', 'events']) {
  test(`${name}: --json`, async () => {
    const args = CASES.find(([n]) => n === name)![1];
    const { code, stdout, stderr } = await capstan(['--json', ...args]);
    assert.equal(code, 0, stderr);
    JSON.parse(stdout);
    golden(`${name}.json`, stdout);
  });
}

test('--column keeps the named columns (by title or JSON key), in the order given', async () => {
  const { code, stdout, stderr } = await capstan(['-d', 'nginx', 'vms', '--column', 'vm_cid', '--column', 'Instance']);
  assert.equal(code, 0, stderr);
  const table = stdout.split('\n').slice(stdout.split('\n').indexOf("Deployment 'nginx'") + 2, -5).map((l) => l.trimEnd());
  assert.deepEqual(table, [
    'VM CID        Instance',
    'capstan-vm-3  db/5f1e4d2c-0000-4000-8000-000000000003',
    'capstan-vm-1  web/0a1b2c3d-0000-4000-8000-000000000001',
    'capstan-vm-2  web/b2a6c0de-0000-4000-8000-000000000002',
  ]);
  const bad = await capstan(['-d', 'nginx', 'vms', '--column', 'nope']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /Expected column 'nope' to be one of: 'Instance', 'Process State'/);
});

test('--no-sort keeps the director order; --sort (the default) sorts', async () => {
  const unsorted = await capstan(['--no-sort', 'deployments', '--column', 'name']);
  assert.deepEqual(unsorted.stdout.match(/^(zookeeper|nginx)\s*$/gm)?.map((l) => l.trim()), ['zookeeper', 'nginx']);
  const sorted = await capstan(['--sort', 'deployments', '--column', 'name']);
  assert.deepEqual(sorted.stdout.match(/^(zookeeper|nginx)\s*$/gm)?.map((l) => l.trim()), ['nginx', 'zookeeper']);
});
