// Day-2 commands against the fake director: the requests they send (routes of director-api §2)
// and what they print. bin/capstan runs as a real child process.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { event, PASSWORD, startFakeDirector, T0, USER, type FakeDirector } from './fake-director.js';

const BIN = resolve(import.meta.dirname, '../../bin/capstan');
let fake: FakeDirector;
let dir: string;
let nextTask = 100;

before(async () => {
  fake = await startFakeDirector();
  dir = mkdtempSync(join(tmpdir(), 'capstan-day2-'));
});
after(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

function capstan(args: string[], env: Record<string, string> = {}, input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = execFile(
      BIN,
      args,
      {
        cwd: dir,
        env: {
          PATH: process.env.PATH,
          CAPSTAN_HOME: join(dir, 'home'),
          BOSH_ENVIRONMENT: fake.url,
          BOSH_CA_CERT: fake.caPath,
          BOSH_CLIENT: USER,
          BOSH_CLIENT_SECRET: PASSWORD,
          ...env,
        },
      },
      // table cells are padded: trailing spaces are dropped here to keep the expectations readable
      (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: stdout.replace(/ +$/gm, ''), stderr }),
    );
    child.stdin?.end(input ?? '');
  });
}

/** A task route that succeeds at once. */
function task(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, extra: { result?: string; taskResult?: string } = {}): number {
  const id = nextTask++;
  fake.route(method, path, { id, states: ['done'], events: [], ...extra });
  return id;
}

const sent = (method: string, prefix: string) => fake.requests.filter((r) => r.method === method && r.url.startsWith(prefix));
const last = (method: string, prefix: string) => sent(method, prefix).pop();

test('deploy applies ops files, shows the director diff and sends its context back', async () => {
  writeFileSync(join(dir, 'manifest.yml'), 'name: nginx\ninstance_groups:\n- name: web\n  instances: 1\n');
  writeFileSync(join(dir, 'scale.yml'), '- type: replace\n  path: /instance_groups/name=web/instances\n  value: ((count))\n');
  fake.respond('POST', '/deployments/nginx/diff', {
    context: { cloud_config_ids: [3], runtime_config_ids: [] },
    diff: [
      ['instance_groups:', null],
      ['- name: web', null],
      ['  instances: 1', 'removed'],
      ['  instances: 2', 'added'],
    ],
  });
  task('POST', '/deployments');
  const { code, stdout, stderr } = await capstan(['-n', 'deploy', 'manifest.yml', '-o', 'scale.yml', '-v', 'count=2', '--skip-drain', '--canaries', '2']);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^ {2}instance_groups:\n {2}- name: web\n- {3}instances: 1\n\+ {3}instances: 2$/m);
  const deploy = last('POST', '/deployments?')!;
  const query = new URL(deploy.url, 'https://x').searchParams;
  assert.equal(query.get('context'), JSON.stringify({ cloud_config_ids: [3], runtime_config_ids: [] }));
  assert.equal(query.get('skip_drain'), '*');
  assert.equal(query.get('canaries'), '2');
  assert.equal(deploy.body, 'instance_groups:\n- instances: 2\n  name: web\nname: nginx\n');
});

test('start, stop --hard, restart, recreate converge through PUT /jobs with the state', async () => {
  task('PUT', '/deployments/nginx/jobs/web/0');
  task('PUT', '/deployments/nginx/jobs/*');
  task('PUT', '/deployments/nginx/jobs/web');
  for (const [args, path, state] of [
    [['start', 'web/0'], '/deployments/nginx/jobs/web/0', 'started'],
    [['stop', '--hard'], '/deployments/nginx/jobs/*', 'detached'],
    [['restart', 'web', '--max-in-flight', '50%'], '/deployments/nginx/jobs/web', 'restart'],
    [['recreate', 'web/0', '--fix'], '/deployments/nginx/jobs/web/0', 'recreate'],
  ] as const) {
    const { code, stderr } = await capstan(['-d', 'nginx', ...args]);
    assert.equal(code, 0, stderr);
    const req = last('PUT', path + '?')!;
    assert.equal(req.contentType, 'text/yaml');
    assert.equal(new URL(req.url, 'https://x').searchParams.get('state'), state);
  }
  assert.equal(new URL(last('PUT', '/deployments/nginx/jobs/web?')!.url, 'https://x').searchParams.get('max_in_flight'), '50%');
  assert.equal(new URL(last('PUT', '/deployments/nginx/jobs/web/0?')!.url, 'https://x').searchParams.get('fix'), 'true');
});

test('stop --no-converge acts on one instance; ignore and unignore toggle it', async () => {
  task('POST', '/deployments/nginx/instance_groups/web/0/actions/stop');
  const stop = await capstan(['-d', 'nginx', 'stop', 'web/0', '--no-converge', '--hard']);
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(last('POST', '/deployments/nginx/instance_groups/web/0/actions/stop')!.url, /hard=true/);
  const noId = await capstan(['-d', 'nginx', 'stop', 'web', '--no-converge']);
  assert.equal(noId.code, 1);
  assert.match(noId.stderr, /Expected an instance \(<instance-group>\/<index-or-id>\) with --no-converge/);

  fake.respond('PUT', '/deployments/nginx/instance_groups/web/abc/ignore', {});
  assert.equal((await capstan(['-d', 'nginx', 'ignore', 'web/abc'])).code, 0);
  assert.equal(last('PUT', '/deployments/nginx/instance_groups/web/abc/ignore')!.body, '{"ignore":true}');
  assert.equal((await capstan(['-d', 'nginx', 'unignore', 'web/abc'])).code, 0);
  assert.equal(last('PUT', '/deployments/nginx/instance_groups/web/abc/ignore')!.body, '{"ignore":false}');
});

test('cck scans, lists the problems, and applies resolutions (--auto: the defaults; --resolution: by name)', async () => {
  task('POST', '/deployments/nginx/scans');
  task('PUT', '/deployments/nginx/problems');
  fake.respond('GET', '/deployments/nginx/problems', [
    {
      id: 4,
      type: 'unresponsive_agent',
      description: "VM for 'web/abc (0)' with cloud ID 'vm-1' is not responding.",
      resolutions: [
        { name: 'Skip for now', plan: 'Skip for now' },
        { name: 'recreate_vm', plan: 'Recreate VM' },
      ],
      instance_group: 'web',
    },
  ]);
  const report = await capstan(['-d', 'nginx', 'cck', '--report']);
  assert.equal(report.code, 0, report.stderr);
  assert.match(report.stdout, /^#  Type {16}Description\n4  unresponsive_agent  VM for 'web\/abc \(0\)' with cloud ID 'vm-1' is not responding\.\n\n1 problems$/m);
  const before = sent('PUT', '/deployments/nginx/problems').length;
  assert.equal(before, 0);

  assert.equal((await capstan(['-n', '-d', 'nginx', 'cck', '--auto'])).code, 0);
  assert.deepEqual(JSON.parse(last('PUT', '/deployments/nginx/problems')!.body!), { resolutions: { '4': null } });
  assert.equal((await capstan(['-n', '-d', 'nginx', 'cck', '--resolution', 'recreate_vm', '--max-in-flight-override', 'web=2'])).code, 0);
  assert.deepEqual(JSON.parse(last('PUT', '/deployments/nginx/problems')!.body!), { resolutions: { '4': 'recreate_vm' }, max_in_flight_overrides: { web: '2' } });
  const wrong = await capstan(['-n', '-d', 'nginx', 'cck', '--resolution', 'delete_vm']);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /it can be resolved with: 'Skip for now', 'recreate_vm'/);
});

test('logs runs fetch_logs and downloads the blob the task names', async () => {
  task('GET', '/deployments/nginx/jobs/web/0/logs', { taskResult: 'blob-logs-1' });
  fake.respond('GET', '/resources/blob-logs-1', Buffer.from('fake tarball bytes'));
  const { code, stdout, stderr } = await capstan(['-d', 'nginx', 'logs', 'web/0', '--job', 'nginx', '--dir', 'out']);
  assert.equal(code, 0, stderr);
  const req = last('GET', '/deployments/nginx/jobs/web/0/logs')!;
  assert.match(req.url, /type=job/);
  assert.match(req.url, /filters=nginx/);
  const files = readdirSync(join(dir, 'out'));
  assert.equal(files.length, 1);
  assert.match(files[0], /^nginx\.web\.0-\d{8}-\d{6}-\d{3}\.tgz$/);
  assert.equal(readFileSync(join(dir, 'out', files[0]), 'utf8'), 'fake tarball bytes');
  assert.match(stdout, /Downloading resource 'blob-logs-1' to '.*\.tgz'\.\.\./);
  task('GET', '/deployments/nginx/jobs/*/*/logs', { taskResult: 'blob-logs-1' });
  assert.equal((await capstan(['-d', 'nginx', 'logs', '--agent', '--dir', 'out'])).code, 0);
  assert.match(last('GET', '/deployments/nginx/jobs/*/*/logs')!.url, /type=agent/);
});

test('ssh -c sets up a user with a fresh key, runs the command on every host through the ssh client, then cleans up', async () => {
  const hosts = [
    { command: 'setup', status: 'success', ip: '10.245.0.2', host_public_key: 'ssh-ed25519 AAAAhostkey1', id: 'aaa', index: 0, job: 'web' },
    { command: 'setup', status: 'success', ip: '10.245.0.3', host_public_key: 'ssh-ed25519 AAAAhostkey2', id: 'bbb', index: 1, job: 'web' },
  ];
  task('POST', '/deployments/nginx/ssh', { result: JSON.stringify(hosts) + '\n' });
  // the "ssh client": prints its target and command, and what the known_hosts file says
  const client = join(dir, 'fake-ssh');
  writeFileSync(
    client,
    '#!/bin/bash\nfor a in "$@"; do case "$a" in UserKnownHostsFile=*) kh="${a#UserKnownHostsFile=}";; esac; done\nn=$#\necho "target=${@:$((n-1)):1} command=${@:$n:1}"\necho "known=$(grep -c hostkey "$kh")"\necho oops >&2\n',
  );
  chmodSync(client, 0o755);
  const { code, stdout, stderr } = await capstan(['-d', 'nginx', 'ssh', 'web', '-c', 'uptime'], { CAPSTAN_SSH: client });
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^web\/aaa: stdout \| target=bosh_[0-9a-f]+@10\.245\.0\.2 command=uptime$/m);
  assert.match(stdout, /^web\/bbb: stdout \| target=bosh_[0-9a-f]+@10\.245\.0\.3 command=uptime$/m);
  assert.match(stdout, /^web\/aaa: stdout \| known=2$/m);
  assert.match(stdout, /^web\/bbb: stderr \| oops$/m);
  const [setup, cleanup] = sent('POST', '/deployments/nginx/ssh').slice(-2).map((r) => JSON.parse(r.body!));
  assert.equal(setup.command, 'setup');
  assert.deepEqual(setup.target, { job: 'web', indexes: [], ids: [] });
  assert.match(setup.params.public_key, /^ssh-rsa AAAAB3NzaC1yc2E/);
  assert.equal(cleanup.command, 'cleanup');
  assert.equal(cleanup.params.user_regex, `^${setup.params.user}`);
});

test('errands, variables, locks, events, event, cancel-task', async () => {
  fake.respond('GET', '/deployments/nginx/errands', [{ name: 'smoke-tests' }, { name: 'backup' }]);
  const errands = await capstan(['-d', 'nginx', 'errands']);
  assert.match(errands.stdout, /^Name\nbackup\nsmoke-tests\n\n2 errands$/m);

  fake.respond('GET', '/deployments/nginx/variables', [{ id: '12', name: '/capstan/nginx/admin_password' }]);
  assert.match((await capstan(['-d', 'nginx', 'variables'])).stdout, /^12  \/capstan\/nginx\/admin_password\n\n1 variables$/m);

  fake.respond('GET', '/locks', [{ type: 'deployment', resource: ['nginx'], timeout: `${T0}.123456`, task_id: '15' }]);
  assert.match((await capstan(['locks'])).stdout, /^deployment  nginx {5}15 {7}Sat Nov 21 12:01:02 UTC 2026\n\n1 locks$/m);

  fake.respond('GET', '/events/9', { id: '9', timestamp: T0, user: 'admin', action: 'delete', object_type: 'vm', object_name: 'vm-1', task: '3', context: {} });
  const one = await capstan(['event', '9']);
  assert.match(one.stdout, /^ID {11}9\nTime {9}Sat Nov 21 12:01:02 UTC 2026\nUser {9}admin\nAction {7}delete$/m);

  fake.respond('GET', '/events', []);
  await capstan(['-d', 'nginx', 'events', '--task', '3', '--object-type', 'vm']);
  const query = new URL(last('GET', '/events?')!.url, 'https://x').searchParams;
  assert.equal(query.get('deployment'), 'nginx');
  assert.equal(query.get('task'), '3');
  assert.equal(query.get('object_type'), 'vm');

  fake.respond('DELETE', '/task/33', '', 204);
  assert.equal((await capstan(['cancel-task', '33'])).code, 0);
  assert.ok(last('DELETE', '/task/33'));
});

test('configs: list, show, update (with diff), delete, diff; runtime-config and cpi-config', async () => {
  fake.respond('GET', '/configs', [
    { id: '2', type: 'cloud', name: 'default', team: null, created_at: '2026-11-21 12:00:00 UTC', current: true, content: 'azs: []\n' },
    { id: '5', type: 'runtime', name: 'dns', team: null, created_at: '2026-11-21 12:05:00 UTC', current: true, content: 'addons: []\n' },
  ]);
  const list = await capstan(['configs']);
  assert.match(list.stdout, /^ID  Type {5}Name {5}Team  Created At\n2\* {2}cloud {4}default  - {5}2026-11-21 12:00:00 UTC\n5\* {2}runtime  dns {6}- {5}2026-11-21 12:05:00 UTC\n\n\(\*\) Currently active\nOnly showing active configs/m);

  fake.respond('GET', '/configs/5', { id: '5', type: 'runtime', name: 'dns', team: null, created_at: '2026-11-21 12:05:00 UTC', current: true, content: 'addons: []\n' });
  assert.match((await capstan(['config', '5'])).stdout, /^Content {5}addons: \[\]$/m);

  writeFileSync(join(dir, 'dns.yml'), 'addons: ((addons))\n');
  fake.respond('POST', '/configs/diff', { from: { id: '5' }, diff: [['addons: []', 'removed'], ['addons:', 'added'], ['- name: dns', 'added']] });
  fake.respond('POST', '/configs', { id: '6', type: 'runtime', name: 'dns', content: 'addons:\n- name: dns\n', current: true, created_at: 'x' }, 201);
  const update = await capstan(['-n', 'update-config', '--type', 'runtime', '--name', 'dns', 'dns.yml', '-v', 'addons=[{name: dns}]']);
  assert.equal(update.code, 0, update.stderr);
  assert.match(update.stdout, /^- addons: \[\]\n\+ addons:\n\+ - name: dns$/m);
  // as bosh: the version the diff was computed against must still be the latest
  assert.deepEqual(JSON.parse(last('POST', '/configs')!.body!), { type: 'runtime', name: 'dns', content: 'addons:\n  - name: dns\n', expected_latest_id: '5' });
  assert.match(update.stdout, /^ID {10}6\*$/m);

  fake.respond('DELETE', '/configs', '', 204);
  assert.equal((await capstan(['-n', 'delete-config', '--type', 'runtime', '--name', 'dns'])).code, 0);
  assert.match(last('DELETE', '/configs')!.url, /type=runtime&name=dns/);

  await capstan(['diff-config', '--from-id', '2', '--to-id', '5']);
  assert.deepEqual(JSON.parse(last('POST', '/configs/diff')!.body!), { from: { id: '2' }, to: { id: '5' } });

  fake.respond('GET', '/runtime_configs', [{ properties: 'addons: []\n', created_at: 'x' }]);
  const rc = await capstan(['runtime-config', '--name', 'dns']);
  assert.match(rc.stdout, /^addons: \[\]$/m);
  assert.match(last('GET', '/runtime_configs')!.url, /limit=1&name=dns/);
  fake.respond('POST', '/cpi_configs', '', 201);
  writeFileSync(join(dir, 'cpi.yml'), 'cpis: [{name: docker, type: docker}]\n');
  assert.equal((await capstan(['-n', 'update-cpi-config', 'cpi.yml'])).code, 0);
  assert.equal(last('POST', '/cpi_configs')!.body, 'cpis: [{name: docker, type: docker}]\n');
});

test('curl passes a request through and prints the body', async () => {
  fake.respond('GET', '/info2', { hello: 'world' });
  const { code, stdout } = await capstan(['curl', '/info2', '-i']);
  assert.equal(code, 0);
  assert.match(stdout, /^HTTP 200$/m);
  assert.match(stdout, /^\{"hello":"world"\}$/m);
});

test('alias-env saves an alias; log-in saves credentials for it; log-out forgets them', async () => {
  const noCreds = { BOSH_ENVIRONMENT: '', BOSH_CLIENT: '', BOSH_CLIENT_SECRET: '', BOSH_CA_CERT: '' };
  const alias = await capstan(['alias-env', 'fake', '-e', fake.url, '--ca-cert', fake.caPath], noCreds);
  assert.equal(alias.code, 0, alias.stderr);
  assert.match(alias.stdout, /^Name {6}fake$/m);
  const config = join(dir, 'home', 'config');
  assert.equal(JSON.parse(readFileSync(config, 'utf8')).environments[0].alias, 'fake');

  const anonymous = await capstan(['-e', 'fake', 'locks'], noCreds);
  assert.equal(anonymous.code, 1); // no credentials yet: the director says 401

  const login = await capstan(['-e', 'fake', 'log-in', '--client', USER, '--client-secret', PASSWORD], noCreds);
  assert.equal(login.code, 0, login.stderr);
  fake.respond('GET', '/locks', []);
  const locks = await capstan(['-e', 'fake', 'locks'], noCreds);
  assert.equal(locks.code, 0, locks.stderr);
  assert.match(locks.stdout, /as user 'admin'/);
  assert.equal((Number.parseInt((await import('node:fs')).statSync(config).mode.toString(8).slice(-3), 10)), 600);

  const logout = await capstan(['-e', 'fake', 'log-out'], noCreds);
  assert.equal(logout.code, 0, logout.stderr);
  assert.equal(JSON.parse(readFileSync(config, 'utf8')).environments[0].password, undefined);
  const unknown = await capstan(['-e', 'nosuchalias', 'locks'], noCreds);
  assert.match(unknown.stderr, /Expected environment 'nosuchalias' to be a URL or an alias/);
  assert.ok(existsSync(config));
});

test('orphaned-disks, delete-disk, clean-up --dry-run', async () => {
  fake.respond('GET', '/disks', [{ disk_cid: 'disk-9', size: 1024, az: 'z1', deployment_name: 'nginx', instance_name: 'db/abc', cloud_properties: {}, orphaned_at: '2026-11-21 12:00:00 +0000' }]);
  const disks = await capstan(['orphaned-disks']);
  assert.match(disks.stdout, /^disk-9 {4}1\.0 GiB  nginx {7}db\/abc {4}z1  2026-11-21 12:00:00 \+0000$/m);
  task('DELETE', '/disks/disk-9');
  assert.equal((await capstan(['-n', 'delete-disk', 'disk-9'])).code, 0);
  fake.respond('GET', '/cleanup/dryrun', { releases: [{ name: 'nginx', versions: ['1.9'] }], stemcells: [], compiled_packages: [], orphaned_disks: [], orphaned_vms: [], exported_releases: [], dns_blobs: [] });
  const plan = await capstan(['clean-up', '--all', '--dry-run']);
  assert.equal(plan.code, 0, plan.stderr);
  assert.match(plan.stdout, /^nginx  1\.9\n\n1 releases$/m);
  assert.match(last('GET', '/cleanup/dryrun')!.url, /remove_all=true/);
  assert.equal(sent('POST', '/cleanup').length, 0);
});

test('run-errand prints each instance result and --download-logs fetches their logs', async () => {
  const result = { instance: { group: 'smoke', id: 'e1' }, errand_name: 'smoke', exit_code: 0, stdout: 'all good\n', stderr: '', logs: { blobstore_id: 'errand-logs-1', sha1: '' } };
  fake.route('POST', '/deployments/nginx/errands/smoke/runs', {
    id: nextTask++,
    states: ['processing', 'done'],
    events: [event({ time: T0, stage: 'Running errand', tags: [], total: 1, task: 'smoke/e1 (0)', index: 1, state: 'started', progress: 0 })],
    result: JSON.stringify(result) + '\n',
  });
  fake.respond('GET', '/resources/errand-logs-1', Buffer.from('errand logs'));
  const { code, stdout, stderr } = await capstan(['-d', 'nginx', 'run-errand', 'smoke', '--download-logs', '--logs-dir', 'errand-logs', '--instance', 'smoke/e1']);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^Instance {3}smoke\/e1\nExit Code  0\nStdout {5}all good\nStderr {5}-$/m);
  assert.deepEqual(JSON.parse(last('POST', '/deployments/nginx/errands/smoke/runs')!.body!).instances, [{ group: 'smoke', id: 'e1' }]);
  const files = readdirSync(join(dir, 'errand-logs'));
  assert.equal(files.length, 1);
  assert.equal(readFileSync(join(dir, 'errand-logs', files[0]), 'utf8'), 'errand logs');
});

test('upload-release and upload-stemcell with a URL send the location for the director to fetch', async () => {
  task('POST', '/releases');
  const rel = await capstan(['upload-release', 'https://example.invalid/nginx.tgz', '--sha1', 'sha256:abc']);
  assert.equal(rel.code, 0, rel.stderr);
  assert.deepEqual(JSON.parse(last('POST', '/releases')!.body!), { location: 'https://example.invalid/nginx.tgz', sha1: 'sha256:abc' });
  fake.respond('POST', '/stemcell_uploads', { needed: false });
  const skipped = await capstan(['upload-stemcell', 'https://example.invalid/s.tgz', '--name', 'capstan-docker', '--version', '1.2']);
  assert.equal(skipped.code, 0, skipped.stderr);
  assert.match(skipped.stdout, /^Stemcell 'capstan-docker\/1\.2' already exists\.$/m);
});

test('scp copies to every matching instance through the scp client with the session key', async () => {
  const hosts = [{ command: 'setup', status: 'success', ip: '10.245.0.7', host_public_key: 'ssh-ed25519 AAAAk', id: 'ccc', index: 0, job: 'db' }];
  task('POST', '/deployments/nginx/ssh', { result: JSON.stringify(hosts) + '\n' });
  const client = join(dir, 'fake-scp');
  writeFileSync(client, '#!/bin/bash\nn=$#\necho "from=${@:$((n-1)):1} to=${@:$n:1} recursive=$([[ " $* " == *" -r "* ]] && echo yes || echo no)"\n');
  chmodSync(client, 0o755);
  const { code, stdout, stderr } = await capstan(['-d', 'nginx', 'scp', '-r', './local dir', 'db:/tmp/x'], { CAPSTAN_SCP: client });
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^db\/ccc: stdout \| from=\.\/local dir to=bosh_[0-9a-f]+@10\.245\.0\.7:\/tmp\/x recursive=yes$/m);
  const both = await capstan(['-d', 'nginx', 'scp', 'db:/a', 'db:/b'], { CAPSTAN_SCP: client });
  assert.match(both.stderr, /Expected exactly one of source and destination to be an instance path/);
});

test('export-release runs the export task and downloads the compiled release, checking its digest', async () => {
  const bytes = Buffer.from('compiled release');
  const sha256 = (await import('node:crypto')).createHash('sha256').update(bytes).digest('hex');
  task('POST', '/releases/export', { result: JSON.stringify({ blobstore_id: 'export-1', sha1: `sha256:${sha256}` }) + '\n' });
  fake.respond('GET', '/resources/export-1', bytes);
  const { code, stderr } = await capstan(['-d', 'nginx', 'export-release', 'nginx/1.10', 'ubuntu-jammy/1.2', '--dir', 'exports']);
  assert.equal(code, 0, stderr);
  assert.deepEqual(JSON.parse(last('POST', '/releases/export')!.body!), {
    deployment_name: 'nginx',
    release_name: 'nginx',
    release_version: '1.10',
    stemcell_os: 'ubuntu-jammy',
    stemcell_version: '1.2',
    sha2: true,
    jobs: [],
  });
  assert.equal(readFileSync(join(dir, 'exports', 'nginx-1.10-ubuntu-jammy-1.2.tgz'), 'utf8'), 'compiled release');
});

test('upload-release sends a tarball as the raw request body unless the director has that version', async () => {
  const tar = await import('tar');
  mkdirSync(join(dir, 'rel'), { recursive: true });
  writeFileSync(join(dir, 'rel', 'release.MF'), 'name: tiny\nversion: "3"\njobs: []\npackages: []\n');
  await tar.c({ gzip: true, file: join(dir, 'tiny.tgz'), cwd: join(dir, 'rel') }, ['.']);
  task('POST', '/releases');
  const { code, stderr } = await capstan(['upload-release', 'tiny.tgz']);
  assert.equal(code, 0, stderr);
  const upload = last('POST', '/releases')!;
  assert.equal(upload.contentType, 'application/x-compressed');
  assert.equal(Buffer.from(upload.body!, 'utf8').length > 0, true);
  fake.respond('GET', '/releases/tiny', { jobs: [], packages: [{ name: 'p', blobstore_id: 'b1' }] });
  const again = await capstan(['upload-release', 'tiny.tgz']);
  assert.match(again.stdout, /^Release 'tiny\/3' already exists\.$/m);
});

test('cancel-tasks, update-resurrection, orphaned-vms, delete-vm', async () => {
  fake.respond('POST', '/tasks/cancel', '', 204);
  assert.equal((await capstan(['-d', 'nginx', 'cancel-tasks', '-s', 'processing', '-t', 'update_deployment'])).code, 0);
  assert.deepEqual(JSON.parse(last('POST', '/tasks/cancel')!.body!), { deployment: 'nginx', types: ['update_deployment'], states: ['processing'] });
  fake.respond('PUT', '/resurrection', '');
  assert.equal((await capstan(['update-resurrection', 'off'])).code, 0);
  assert.deepEqual(JSON.parse(last('PUT', '/resurrection')!.body!), { resurrection_paused: true });
  fake.respond('GET', '/orphaned_vms', [{ cid: 'vm-7', deployment_name: 'nginx', instance_name: 'web/1', az: 'z1', ip_addresses: ['10.245.0.9'], orphaned_at: '2026-11-21T12:00:00Z' }]);
  assert.match((await capstan(['orphaned-vms'])).stdout, /^vm-7 {4}nginx {7}web\/1 {5}z1  10\.245\.0\.9  2026-11-21T12:00:00Z$/m);
  task('DELETE', '/vms/vm-7');
  assert.equal((await capstan(['-n', 'delete-vm', 'vm-7'])).code, 0);
});
