// The capstan command (bin/capstan, a real child process) against the fake director.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { event, PASSWORD, startFakeDirector, T0, USER, type FakeDirector } from './fake-director.js';

const BIN = resolve(import.meta.dirname, '../../bin/capstan');
let fake: FakeDirector;
let home: string;

before(async () => {
  fake = await startFakeDirector();
  home = mkdtempSync(join(tmpdir(), 'capstan-cli-home-'));
});
after(async () => {
  await fake.close();
  rmSync(home, { recursive: true, force: true });
});

function capstan(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      BIN,
      args,
      {
        env: {
          PATH: process.env.PATH,
          CAPSTAN_HOME: home,
          BOSH_ENVIRONMENT: fake.url,
          BOSH_CA_CERT: fake.caPath,
          BOSH_CLIENT: USER,
          BOSH_CLIENT_SECRET: PASSWORD,
          ...env,
        },
      },
      (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const vmLine = JSON.stringify({
  vm_cid: 'capstan-vm-1',
  active: true,
  ips: ['10.245.0.2'],
  agent_id: 'agent-1',
  job_name: 'nginx',
  index: 0,
  id: '14e444f1-48c0-4006-8908-7d535ee88bc0',
  az: 'z1',
  job_state: 'running',
  vm_type: 'small',
});

test('capstan -d nginx vms prints bosh\'s header, task line and table', async () => {
  fake.route('GET', '/deployments/nginx/vms', { id: 21, states: ['processing', 'done'], events: [], result: vmLine + '\n' });
  const { code, stdout, stderr } = await capstan(['-d', 'nginx', 'vms']);
  assert.equal(code, 0, stderr);
  const lines = stdout.split('\n').map((l) => l.trimEnd());
  assert.deepEqual(lines, [
    `Using environment '${fake.url}' as user 'admin'`,
    '',
    "Using deployment 'nginx'",
    '',
    'Task 21. Done',
    '',
    "Deployment 'nginx'",
    '',
    'Instance                                    Process State  AZ  IPs         VM CID        VM Type  Active',
    'nginx/14e444f1-48c0-4006-8908-7d535ee88bc0  running        z1  10.245.0.2  capstan-vm-1  small    true',
    '',
    '1 vms',
    '',
    'Succeeded',
    '',
  ]);
});

test('--json prints one bosh-shaped document', async () => {
  fake.route('GET', '/deployments/nginx/instances', { id: 22, states: ['done'], events: [], result: vmLine + '\n' });
  const { code, stdout } = await capstan(['--json', '-d', 'nginx', 'instances']);
  assert.equal(code, 0);
  const doc = JSON.parse(stdout);
  assert.equal(doc.Tables[0].Content, 'instances');
  assert.deepEqual(doc.Tables[0].Rows, [{ instance: 'nginx/14e444f1-48c0-4006-8908-7d535ee88bc0', process_state: 'running', az: 'z1', ips: '10.245.0.2' }]);
  assert.ok(doc.Lines.includes('Succeeded'));
});

test('deploy sends the interpolated manifest and a failed task exits 1 with bosh\'s error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'capstan-cli-manifest-'));
  try {
    const manifest = join(dir, 'manifest.yml');
    writeFileSync(manifest, 'name: nginx\ninstance_groups:\n- name: nginx\n  instances: ((count))\n');
    fake.route('POST', '/deployments', {
      id: 23,
      states: ['processing', 'error'],
      events: [
        event({ time: T0, stage: 'Preparing deployment', tags: [], total: 1, task: 'Preparing deployment', index: 1, state: 'started', progress: 0 }),
        event({ time: T0 + 1, stage: 'Preparing deployment', tags: [], total: 1, task: 'Preparing deployment', index: 1, state: 'failed', progress: 100, data: { error: 'no stemcell' } }),
        event({ time: T0 + 1, error: { code: 100, message: 'no stemcell' } }),
      ],
    });
    const { code, stdout, stderr } = await capstan(['-n', 'deploy', manifest, '-v', 'count=2']);
    assert.equal(code, 1);
    assert.match(stdout, /^Task 23 \| 12:01:02 \| Preparing deployment: Preparing deployment \(00:00:01\)$/m);
    assert.match(stdout, /^ {19}L Error: no stemcell$/m);
    assert.match(stderr, /^Expected task '23' to succeed but state is 'error'$/m);
    assert.match(stderr, /^Exit code 1$/m);
    const sent = fake.requests.filter((r) => r.method === 'POST' && r.url.startsWith('/deployments')).pop();
    assert.equal(sent?.contentType, 'text/yaml');
    assert.match(sent?.body ?? '', /instances: 2\n/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('without a target and without a local environment the CLI says how to get one', async () => {
  const { code, stderr } = await capstan(['deployments'], { BOSH_ENVIRONMENT: '' });
  assert.equal(code, 1);
  assert.match(stderr, /run 'capstan up'/);
});
