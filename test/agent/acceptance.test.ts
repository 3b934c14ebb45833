// Issue 3 acceptance: the agent driven over a real nats-server (mutual TLS) with a real monit. Every
// action is exercised with a success and a failure shape; a job is started, killed and restarted by
// monit with an alert on hm.agent.alert.<id>, stopped, and stays stopped across an agent restart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile, readFile, readlink, access, lstat, readdir, stat, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { AgentEnv, isAlive, renderedJobBlob, sha1, sha256, sha512, sleep, tarballBlob, tgz, waitFor } from './harness.js';

const JOB = 'dummyjob';
// Short stop and reload timeouts, so that the failure shapes of start and stop show within seconds.
const STOP_TIMEOUT_SECONDS = 4;
const env = new AgentEnv({ capstan: { StopTimeoutSeconds: STOP_TIMEOUT_SECONDS, ReloadTimeoutSeconds: 1 } });

// A plain HTTP server standing in for signed-URL blobstore endpoints.
let http: Server;
let httpBase = '';
const httpBlobs = new Map<string, Buffer>();
const httpHeaders: Array<Record<string, unknown>> = [];

interface Blobs {
  archive: Buffer;
  broken: Buffer;
  pkg: Buffer;
  source: Buffer;
  evil: Buffer;
}

async function buildBlobs(): Promise<Blobs> {
  const { dir, blobDir } = env;
  const archive = await renderedJobBlob(env, 'rendered-1', JOB, {
    sleepArg: 100001,
    scripts: {
      'post-start': '#!/bin/bash\necho "post-start failing on purpose" >&2\nexit 4\n',
      'pre-start': '#!/bin/bash\necho "pre-start $BOSH_VM_NEXT_STATE"\n',
      drain: '#!/bin/bash\necho 0\n',
      run: `#!/bin/bash\nif [ -f ${dir}/slow-errand ]; then sleep 30; fi\necho errand out\n`,
    },
  });
  // A job whose monit file monit refuses: reloading monit cannot succeed (the start failure shape).
  const broken = await renderedJobBlob(env, 'rendered-broken', 'brokenjob', { sleepArg: 100002, monit: 'check process brokenjob\n  with nonsense\n' });
  const pkg = await tarballBlob(env, 'pkg-1', { 'hello.txt': 'hello from a package\n' });
  const source = await tarballBlob(env, 'src-1', { packaging: 'set -e\necho "built $BOSH_PACKAGE_NAME" > "$BOSH_INSTALL_TARGET/built.txt"\n' });

  // A package whose tarball climbs out of its directory with ../
  const work = join(dir, 'build');
  const evilDir = join(work, 'evil', 'inner');
  await mkdir(evilDir, { recursive: true });
  await writeFile(join(work, 'evil', 'escaped.txt'), 'should never be extracted\n');
  const evil = tgz(evilDir, join(work, 'evil.tgz'), ['../escaped.txt'], ['-P']);
  await writeFile(join(blobDir, 'evil-1'), evil);
  return { archive, broken, pkg, source, evil };
}

let blobs: Blobs;

before(async () => {
  await env.setup();
  http = createServer((req, res) => {
    const key = req.url ?? '';
    httpHeaders.push({ method: req.method, url: key, ...req.headers });
    if (req.method === 'PUT') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        httpBlobs.set(key.split('?')[0], Buffer.concat(chunks));
        res.writeHead(201).end();
      });
      return;
    }
    const blob = httpBlobs.get(key.split('?')[0]);
    if (!blob) return void res.writeHead(404).end('no such blob');
    res.writeHead(200).end(blob);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  httpBase = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
  blobs = await buildBlobs();
  await env.startAgent();
});

after(async () => {
  await env.teardown();
  await new Promise((r) => http?.close(r));
});

const network = { default: { type: 'manual', ip: '10.245.0.10', netmask: '255.255.255.0', gateway: '10.245.0.1' } };

function fullSpec() {
  return {
    deployment: 'dep',
    name: 'web',
    index: 0,
    id: 'inst-1',
    az: 'z1',
    job: { name: 'web', template: JOB, version: 'v1', templates: [{ name: JOB, version: 'v1' }] },
    packages: { hello: { name: 'hello', version: '1.0.1', sha1: sha1(blobs.pkg), blobstore_id: 'pkg-1' } },
    networks: network,
    configuration_hash: 'cfg-1',
    persistent_disk: 0,
    rendered_templates_archive: { blobstore_id: 'rendered-1', sha1: `${sha1(blobs.archive)};sha256:${sha256(blobs.archive)}` },
  };
}

async function jobPid(): Promise<number> {
  const pidFile = join(env.base, 'sys', 'run', JOB, `${JOB}.pid`);
  return waitFor('job pid', async () => Number((await readFile(pidFile, 'utf8')).trim()) || undefined, 30_000, () => env.log);
}

async function assertServing(): Promise<void> {
  assert.deepEqual(await env.request('ping'), { value: 'pong' });
}

test('issue 3 acceptance over NATS (mTLS) and monit', async (t) => {
  await t.test('ping, info, first heartbeat right after connecting', async () => {
    assert.equal(await env.call('ping'), 'pong');
    assert.deepEqual(await env.call('info'), { api_version: 1 });
    const hb = await waitFor('heartbeat', async () => env.heartbeats[0]);
    assert.equal(hb.job_state, 'running');
  });

  await t.test('malformed request, unknown method, too few args each get the documented answer; the agent keeps serving', async () => {
    env.publishRaw('{"method": "ping", "reply_to": ');
    await assertServing();
    assert.deepEqual(await env.request('configure_networks'), { exception: { message: 'unknown message configure_networks' } });
    // Async actions bind their arguments in the task, as bosh-agent does: the error comes via get_task.
    const handle = (await env.request('mount_disk', [])).value as { agent_task_id: string };
    await assert.rejects(env.pollTask(handle.agent_task_id), {
      message: `Action Failed get_task: Task ${handle.agent_task_id} result: Extracting method arguments from payload: Not enough arguments, expected 1, got 0`,
    });
    assert.deepEqual(await env.request('ssh', ['setup']), {
      exception: { message: 'Action Failed ssh: Extracting method arguments from payload: Not enough arguments, expected 2, got 1' },
    });
    await assertServing();
  });

  await t.test('get_task / cancel_task of an unknown id', async () => {
    assert.deepEqual(await env.request('get_task', ['nope']), { exception: { message: 'Action Failed get_task: Task with id nope could not be found' } });
    assert.deepEqual(await env.request('cancel_task', ['nope']), { exception: { message: 'Action Failed cancel_task: Task with id nope could not be found' } });
  });

  await t.test('apply: network missing from settings fails; a digest mismatch fails with the digest text', async () => {
    await assert.rejects(env.call('apply', [{ ...fullSpec(), networks: { other: network.default } }]), /Task .* result: Network 'other' is not found in settings/);
    const bad = fullSpec();
    bad.packages.hello.sha1 = `sha256:${'0'.repeat(64)}`;
    await assert.rejects(env.call('apply', [bad]), /Checking downloaded blob 'pkg-1': Expected stream to have digest 'sha256:0{64}' but was 'sha256:[0-9a-f]{64}'/);
    await assertServing();
  });

  await t.test("a package tarball with ../ entries is refused and nothing escapes; the agent keeps serving", async () => {
    const spec = { ...fullSpec(), packages: { evil: { name: 'evil', version: '1', sha1: sha1(blobs.evil), blobstore_id: 'evil-1' } } };
    await assert.rejects(env.call('prepare', [spec]), /Task .* result: Refusing to extract '[^']+': entry '\.\.\/escaped\.txt' has a '\.\.' path segment/);
    const escaped = await readdir(join(env.base, 'data', 'packages')).then((names) => names.includes('escaped.txt'));
    assert.equal(escaped, false);
    await assert.rejects(access(join(env.base, 'data', 'packages', 'evil', 'escaped.txt')));
    await assertServing();
  });

  await t.test('prepare then apply install the job and packages', async () => {
    assert.equal(await env.call('prepare', [fullSpec()]), 'prepared');
    assert.equal(await env.call('apply', [fullSpec()]), 'applied');
    assert.ok((await readlink(join(env.base, 'jobs', JOB))).startsWith(join(env.base, 'data', 'jobs', JOB)));
    assert.equal(await readFile(join(env.base, 'packages', 'hello', 'hello.txt'), 'utf8'), 'hello from a package\n');
  });

  await t.test('start: a job monit refuses fails the monit reload; a good apply and start recover', async () => {
    const broken = { ...fullSpec(), job: { name: 'web', template: 'brokenjob', version: 'v1', templates: [{ name: 'brokenjob', version: 'v1' }] } };
    broken.rendered_templates_archive = { blobstore_id: 'rendered-broken', sha1: sha1(blobs.broken) };
    assert.equal(await env.call('apply', [broken]), 'applied');
    const res = await env.request('start', [], 30_000);
    assert.match(res.exception?.message ?? '', /^Action Failed start: Failed to reload monit: before=(\d+) after=\1$/);
    assert.equal(await env.call('apply', [fullSpec()]), 'applied');
    await assertServing();
  });

  await t.test('run_script: pre-start succeeds with env; failing post-start gives the aggregate error', async () => {
    assert.deepEqual(await env.call('run_script', ['pre-start', { env: { BOSH_VM_NEXT_STATE: 'keep' } }]), {});
    assert.equal(await readFile(join(env.base, 'sys', 'log', JOB, 'pre-start.stdout.log'), 'utf8'), 'pre-start keep\n');
    await assert.rejects(env.call('run_script', ['post-start', {}]), /Task .* result: 1 of 1 post-start scripts failed\. Failed Jobs: dummyjob\. Successful Jobs: \./);
  });

  let firstPid = 0;
  await t.test('start: monit runs the job; get_state and heartbeats report it running', async () => {
    assert.equal(await env.call('start'), 'started');
    const state = await waitFor('running', async () => {
      const s = (await env.call('get_state', ['full'])) as { job_state: string; processes?: Array<{ name: string; state: string }>; vitals?: unknown };
      return s.job_state === 'running' && s.processes?.[0]?.state === 'running' ? s : undefined;
    });
    assert.ok(state.vitals);
    firstPid = await jobPid();
    assert.ok(isAlive(firstPid));
    await waitFor('running heartbeat', async () => env.heartbeats.find((h) => h.job_state === 'running' && h.number_of_processes === 1));
  });

  await t.test('get_state: a wrongly typed argument is an unmarshalling error', async () => {
    assert.match((await env.request('get_state', [5])).exception?.message ?? '', /^Action Failed get_state: Unmarshalling action argument: /);
  });

  await t.test('a killed job is restarted by monit and an alert goes out on hm.agent.alert.<id>', async () => {
    process.kill(firstPid, 'SIGKILL');
    const alert = await waitFor('alert', async () => env.alerts.find((a) => /does not exist/i.test(String(a.title))), 60_000, () => env.log);
    assert.match(String(alert.title), /^dummyjob \(10\.245\.0\.10\) - Does not exist - restart$/i);
    assert.equal(alert.severity, 1);
    assert.equal(typeof alert.id, 'string');
    assert.ok(String(alert.id).length > 0);
    assert.equal(typeof alert.created_at, 'number');
    assert.equal(typeof alert.summary, 'string');
    const newPid = await waitFor('restarted job', async () => {
      const pid = await jobPid();
      return pid !== firstPid && isAlive(pid) ? pid : undefined;
    });
    assert.notEqual(newPid, firstPid);
    assert.equal(env.alerts.some((a) => /^exists$/i.test(String(a.title).split(' - ')[1] ?? '')), false, 'ignored events are not sent');
  });

  await t.test('drain: update needs a spec; status is rejected; shutdown sends the shutdown notice and answers 0', async () => {
    await assert.rejects(env.call('drain', ['update']), /Drain update requires new spec/);
    await assert.rejects(env.call('drain', ['status']), /Unexpected call with drain type 'status'/);
    assert.equal(await env.call('drain', ['shutdown']), 0);
    await waitFor('shutdown notice', async () => (env.shutdowns.length > 0 ? true : undefined));
    assert.equal(env.shutdowns[0], null);
  });

  await t.test('stop: a job whose stop program hangs times out with the documented text', async () => {
    const pid = await jobPid();
    await writeFile(join(env.dir, 'stuck-stop'), '');
    try {
      await assert.rejects(env.call('stop'), {
        message: new RegExp(`^Action Failed get_task: Task [0-9a-f-]+ result: Timed out waiting for services '${JOB}' to stop after ${STOP_TIMEOUT_SECONDS} seconds$`),
      });
      assert.ok(isAlive(pid), 'the job process still runs');
    } finally {
      await rm(join(env.dir, 'stuck-stop'), { force: true });
    }
    // the stop program finishes now; start brings the job back for the next test
    await waitFor('job stopped late', async () => (isAlive(pid) ? undefined : true));
    const stopPrograms = () => execFileSync('ps', ['-eo', 'args']).toString().split('\n').filter((l) => l.includes(`${env.base}/jobs/${JOB}/bin/ctl stop`));
    await waitFor('stop program gone', async () => (stopPrograms().length === 0 ? true : undefined));
    assert.equal(await env.call('start'), 'started');
    await waitFor('running again', async () => (((await env.call('get_state')) as { job_state: string }).job_state === 'running' ? true : undefined));
  });

  await t.test('stop: the job is stopped and stays stopped across an agent restart', async () => {
    const pid = await jobPid();
    assert.equal(await env.call('stop'), 'stopped');
    assert.equal(((await env.call('get_state')) as { job_state: string }).job_state, 'stopped');
    await waitFor('job gone', async () => (isAlive(pid) ? undefined : true));
    assert.doesNotMatch(env.log, /monit stop -g vcap failed/, 'stopped through the monit CLI');
    // A crash, not a clean shutdown: SIGKILL leaves monit behind; the next agent takes over.
    await env.stopAgent('SIGKILL');
    const hbBefore = env.heartbeats.length;
    await env.startAgent();
    await waitFor('heartbeat after restart', async () => (env.heartbeats.length > hbBefore ? true : undefined));
    await sleep(3000); // three monit cycles
    const state = (await env.call('get_state')) as { job_state: string; processes?: Array<{ state: string }> };
    assert.equal(state.job_state, 'stopped');
    assert.ok(!state.processes?.some((p) => p.state === 'running'));
    // start still works after such a restart
    assert.equal(await env.call('start'), 'started');
    await waitFor('running again', async () => (((await env.call('get_state')) as { job_state: string }).job_state === 'running' ? true : undefined));
    assert.equal(await env.call('stop'), 'stopped');
    const running = execFileSync('ps', ['-eo', 'args']).toString().split('\n').filter((l) => l.startsWith('sleep 100001'));
    assert.deepEqual(running, [], `no job process runs; monit log:\n${await readFile(join(env.base, 'monit', 'monit.log'), 'utf8')}`);
    assert.equal(env.heartbeats.at(-1)!.job_state, 'stopped');
  });

  await t.test('run_errand: result with output; cancel_task stops a running errand; unknown errand fails', async () => {
    assert.deepEqual(await env.call('run_errand', []), { stdout: 'errand out\n', stderr: '', exit_code: 0 });
    await assert.rejects(env.call('run_errand', ['missing']), /Could not find errand missing/);
    await writeFile(join(env.dir, 'slow-errand'), '');
    const handle = (await env.request('run_errand', [JOB])).value as { agent_task_id: string };
    await sleep(500);
    assert.deepEqual(await env.request('cancel_task', [handle.agent_task_id]), { value: 'canceled' });
    const result = (await env.pollTask(handle.agent_task_id)) as { exit_code: number };
    assert.equal(result.exit_code, 143, 'SIGTERM: 128 + 15');
  });

  await t.test('compile_package: success uploads the result; a digest mismatch fails', async () => {
    const result = (await env.call('compile_package', ['src-1', sha1(blobs.source), 'mypkg', '1.0', {}])) as { result: { blobstore_id: string; sha1: string } };
    assert.equal(sha1(await readFile(join(env.blobDir, result.result.blobstore_id))), result.result.sha1);
    await assert.rejects(env.call('compile_package', ['src-1', 'deadbeef', 'mypkg', '1.0', {}]), /Expected stream to have digest 'deadbeef'/);
  });

  await t.test('compile_package_with_signed_url: GET source, PUT result; a missing source fails', async () => {
    httpBlobs.set('/src', blobs.source);
    const result = (await env.call('compile_package_with_signed_url', [
      { package_get_signed_url: `${httpBase}/src?sig=abc`, upload_signed_url: `${httpBase}/out?sig=def`, blobstore_headers: { 'X-Test': 'yes' }, digest: sha1(blobs.source), name: 'mypkg', version: '1.0', deps: {} },
    ])) as { result: { sha1: string } };
    const out = httpBlobs.get('/out')!;
    assert.equal(result.result.sha1, `${sha1(out)};sha512:${sha512(out)}`);
    assert.ok(httpHeaders.some((h) => h.method === 'PUT' && h['x-test'] === 'yes' && h.expect === '100-continue'));
    await assert.rejects(
      env.call('compile_package_with_signed_url', [{ package_get_signed_url: `${httpBase}/missing`, upload_signed_url: `${httpBase}/x`, digest: 'abc', name: 'p', version: '1', deps: {} }]),
      /status 404/,
    );
  });

  await t.test('fetch_logs with doublestar filters; an invalid log type fails', async () => {
    await mkdir(join(env.base, 'sys', 'log', JOB, 'nested'), { recursive: true });
    await writeFile(join(env.base, 'sys', 'log', JOB, 'nested', 'deep.log'), 'deep\n');
    await writeFile(join(env.base, 'sys', 'log', JOB, 'skip.txt'), 'skip\n');
    const result = (await env.call('fetch_logs', ['job', ['**/*.log']])) as { blobstore_id: string; sha1: string };
    const tarball = join(env.blobDir, result.blobstore_id);
    assert.equal(sha1(await readFile(tarball)), result.sha1);
    const listing = execFileSync('tar', ['-tzf', tarball]).toString();
    assert.match(listing, /\.\/dummyjob\/nested\/deep\.log/);
    assert.match(listing, /\.\/dummyjob\/pre-start\.stdout\.log/);
    assert.doesNotMatch(listing, /skip\.txt/);
    await assert.rejects(env.call('fetch_logs', ['bogus', null]), /Task .* result: Invalid log type/);
  });

  await t.test('fetch_logs_with_signed_url and bundle_logs', async () => {
    const signed = (await env.call('fetch_logs_with_signed_url', [{ signed_url: `${httpBase}/logs?sig=1`, log_type: 'agent', filters: [], blobstore_headers: {} }])) as { sha1: string };
    const uploaded = httpBlobs.get('/logs')!;
    assert.equal(signed.sha1, `${sha1(uploaded)};sha512:${sha512(uploaded)}`);
    assert.match(execFileSync('tar', ['-tz'], { input: uploaded }).toString(), /\.\/current/);
    const bundle = (await env.call('bundle_logs', [{ owning_user: '', log_type: 'job', filters: ['dummyjob'] }])) as { logs_tar_path: string; sha512: string };
    assert.equal(bundle.sha512, `sha512:${sha512(await readFile(bundle.logs_tar_path))}`);
    assert.match(execFileSync('tar', ['-tzf', bundle.logs_tar_path]).toString(), /nested\/deep\.log/);
    assert.deepEqual(await env.request('bundle_logs', [{ log_type: 'nope' }]), { exception: { message: 'Action Failed bundle_logs: Invalid log type' } });
  });

  await t.test('ssh setup/cleanup (dummy platform: home dir and authorized_keys only); unknown command', async () => {
    const setup = (await env.call('ssh', ['setup', { user: 'bosh_abc', public_key: 'ssh-rsa AAAA test' }])) as Record<string, string>;
    assert.deepEqual({ ...setup, host_public_key: typeof setup.host_public_key }, { command: 'setup', status: 'success', ip: '10.245.0.10', host_public_key: 'string' });
    const keys = join(env.base, 'bosh_ssh', 'bosh_abc', '.ssh', 'authorized_keys');
    assert.equal(await readFile(keys, 'utf8'), 'ssh-rsa AAAA test');
    assert.equal((await stat(keys)).mode & 0o777, 0o600);
    assert.deepEqual(await env.call('ssh', ['cleanup', { user_regex: '^bosh_a' }]), { command: 'cleanup', status: 'success' });
    await assert.rejects(access(join(env.base, 'bosh_ssh', 'bosh_abc')));
    assert.deepEqual(await env.request('ssh', ['rotate', {}]), { exception: { message: 'Action Failed ssh: Unknown command for SSH method' } });
  });

  await t.test('persistent disks (dummy platform: directories, mount = symlink) and dynamic disks', async () => {
    const disk1 = join(env.dir, 'disk-1');
    const disk2 = join(env.dir, 'disk-2');
    await mkdir(disk1);
    await mkdir(disk2);
    assert.deepEqual(await env.call('add_persistent_disk', ['disk-cid-1', disk1]), {});
    assert.deepEqual(await env.call('add_persistent_disk', ['disk-cid-2', { path: disk2, volume_id: 'v2' }]), {});
    const hints = JSON.parse(await readFile(join(env.base, 'bosh', 'persistent_disk_hints.json'), 'utf8'));
    assert.deepEqual(hints['disk-cid-2'], { ID: 'disk-cid-2', Path: disk2, VolumeID: 'v2' });
    assert.deepEqual(await env.call('list_disk'), []);
    assert.deepEqual(await env.call('mount_disk', ['disk-cid-1']), {});
    assert.deepEqual(await env.call('list_disk'), ['disk-cid-1']);
    assert.deepEqual((await env.request('list_disk', [], 15_000, 2)).value, ['disk-cid-1'], 'protocol 2: list_disk is synchronous');
    await writeFile(join(env.base, 'store', 'data.txt'), 'persisted\n');
    assert.equal(await readFile(join(disk1, 'data.txt'), 'utf8'), 'persisted\n');
    assert.equal(await readFile(join(env.base, 'bosh', 'managed_disk_settings.json'), 'utf8'), 'disk-cid-1');
    // A second disk goes to store_migration_target; migrate_disk copies and swaps (extra args ignored).
    assert.deepEqual(await env.call('mount_disk', ['disk-cid-2']), {});
    assert.deepEqual(await env.call('migrate_disk', ['disk-cid-1', 'disk-cid-2']), {});
    assert.equal(await readFile(join(disk2, 'data.txt'), 'utf8'), 'persisted\n');
    assert.deepEqual(await env.call('list_disk'), ['disk-cid-2']);
    // A new disk that vanished before the copy: migrate_disk fails and the old data stays where it was.
    const disk3 = join(env.dir, 'disk-3-gone');
    await mkdir(disk3);
    assert.deepEqual(await env.call('add_persistent_disk', ['disk-cid-gone', disk3]), {});
    assert.deepEqual(await env.call('mount_disk', ['disk-cid-gone']), {});
    await rm(disk3, { recursive: true });
    await assert.rejects(env.call('migrate_disk', []), /^Error: Action Failed get_task: Task [0-9a-f-]+ result: Copying files from old disk to new disk: /);
    assert.equal(await readFile(join(env.base, 'store', 'data.txt'), 'utf8'), 'persisted\n');
    assert.deepEqual(await env.call('unmount_disk', ['disk-cid-gone']), { message: `Unmounted partition of ${disk3}` });
    assert.deepEqual(await env.call('remove_persistent_disk', ['disk-cid-gone']), {});
    assert.deepEqual(await env.call('unmount_disk', ['disk-cid-2']), { message: `Unmounted partition of ${disk2}` });
    assert.deepEqual(await env.call('unmount_disk', ['disk-cid-2']), { message: `Partition of ${disk2} is not mounted` });
    assert.deepEqual(await env.call('remove_persistent_disk', ['disk-cid-2']), {});
    await assert.rejects(env.call('mount_disk', ['disk-cid-2']), /Task .* result: Persistent disk with volume id 'disk-cid-2' could not be found/);
    assert.deepEqual(await env.call('add_dynamic_disk', ['dyn-1', { path: disk1 }]), {});
    assert.equal(await readlink(join(env.base, 'data', 'dynamic_disks', 'dyn-1')), disk1);
    assert.deepEqual(await env.call('remove_dynamic_disk', ['dyn-1']), {});
    assert.equal((await lstat(join(env.base, 'data', 'dynamic_disks', 'dyn-1')).catch(() => undefined)), undefined);
    await assert.rejects(env.call('add_dynamic_disk', ['dyn-2', {}]), /no device path/);
  });

  await t.test('failure shapes of the remaining disk, log, dns and misc actions', async () => {
    await assert.rejects(env.call('unmount_disk', ['nope']), /Task .* result: Persistent disk with volume id 'nope' could not be found/);
    await assert.rejects(env.call('add_persistent_disk', ['only-cid']), /Task .* result: Extracting method arguments from payload: Not enough arguments, expected 2, got 1/);
    await assert.rejects(env.call('remove_persistent_disk', []), /Not enough arguments, expected 1, got 0/);
    assert.deepEqual(await env.request('remove_dynamic_disk', ['..']), { exception: { message: "Action Failed remove_dynamic_disk: Invalid disk CID '..'" } });
    await assert.rejects(env.call('fetch_logs_with_signed_url', [{ signed_url: `${httpBase}/x`, log_type: 'nope' }]), /Invalid log type/);
    await assert.rejects(env.call('sync_dns_with_signed_url', [{ signed_url: `${httpBase}/missing-dns`, multi_digest: 'abc', version: 99 }]), /status 404/);
    assert.match((await env.request('delete_arp_entries', ['10.0.0.1'])).exception?.message ?? '', /^Action Failed delete_arp_entries: Unmarshalling action argument/);
    assert.match((await env.request('sync_dns', ['id', 'digest', 'seven'])).exception?.message ?? '', /^Action Failed sync_dns: Unmarshalling action argument/);
    await assertServing();
  });

  await t.test('upload_blob: base64 with newlines is stored; a checksum mismatch fails', async () => {
    const data = Buffer.from('rendered templates '.repeat(20));
    const payload = data.toString('base64').replace(/(.{60})/g, '$1\n');
    assert.equal(await env.call('upload_blob', [{ blob_id: 'up-1', checksum: `sha256:${sha256(data)}`, payload }]), 'up-1');
    const stored = join(env.base, 'data', 'sensitive_blobs', 'up-1');
    assert.deepEqual(await readFile(stored), data);
    assert.equal((await stat(stored)).mode & 0o777, 0o640);
    await assert.rejects(env.call('upload_blob', [{ blob_id: 'up-2', checksum: 'abc', payload }]), /Payload corrupted\. Checksum mismatch\. Expected 'abc'/);
  });

  await t.test('sync_dns: records written and hosts rewritten (dummy: <base>/bosh/etc/hosts); version mismatch fails', async () => {
    const records = JSON.stringify({ version: 7, records: [['10.245.0.10', 'web-0.dep.bosh']] });
    await writeFile(join(env.blobDir, 'dns-7'), records);
    assert.equal(await env.call('sync_dns', ['dns-7', sha1(records), 7]), 'synced');
    assert.match(await readFile(join(env.base, 'bosh', 'etc', 'hosts'), 'utf8'), /^10\.245\.0\.10 web-0\.dep\.bosh$/m);
    assert.equal(await readFile(join(env.base, 'instance', 'dns', 'records.json'), 'utf8'), records);
    assert.equal(await env.call('sync_dns', ['dns-7', 'ignored-when-up-to-date', 6]), 'synced');
    await assert.rejects(env.call('sync_dns', ['dns-7', sha1(records), 8]), /version from unpacked dns blob does not match version supplied by director/);
    httpBlobs.set('/dns', Buffer.from(JSON.stringify({ version: 9, records: [] })));
    assert.equal(await env.call('sync_dns_with_signed_url', [{ signed_url: `${httpBase}/dns`, multi_digest: sha1(httpBlobs.get('/dns')!), version: 9 }]), 'synced');
  });

  await t.test('delete_arp_entries, remove_file, shutdown', async () => {
    assert.deepEqual(await env.call('delete_arp_entries', [{ ips: ['10.245.0.99'] }]), {});
    const doomed = join(env.dir, 'doomed');
    await mkdir(join(doomed, 'sub'), { recursive: true });
    assert.equal(await env.call('remove_file', [doomed]), doomed);
    await assert.rejects(access(doomed));
    assert.match((await env.request('remove_file', [{}])).exception?.message ?? '', /^Action Failed remove_file: Unmarshalling action argument/);
    assert.equal(await env.call('shutdown'), '');
  });

  await t.test('update_settings: certs and disk associations answer "ok"; new blobstores are used without a restart; a persisted task resumes', async () => {
    const disk = join(env.dir, 'disk-3');
    await mkdir(disk);
    await env.call('add_persistent_disk', ['disk-cid-3', disk]);
    assert.equal(await env.call('update_settings', [{ trusted_certs: env.pki.ca, disk_associations: [{ name: 'data', cid: 'disk-cid-3' }] }]), 'ok');
    assert.equal(await readlink(join(env.base, 'instance', 'disks', 'data')), disk);
    assert.match(await readFile(join(env.base, 'bosh', 'etc', 'trusted_certs', 'bosh-trusted-cert-1.crt'), 'utf8'), /BEGIN CERTIFICATE/);
    await assert.rejects(env.call('update_settings', [{ disk_associations: [{ name: 'x', cid: 'unknown-cid' }] }]), /could not be found/);

    // new blobstores (a new credential) are used in-process: no restart, later downloads use them
    const rotated = join(env.dir, 'rotated-blobs');
    await mkdir(rotated);
    const records = JSON.stringify({ version: 20, records: [] });
    await writeFile(join(rotated, 'dns-20'), records);
    const blobstores = [{ provider: 'local', options: { blobstore_path: rotated } }];
    assert.equal(await env.call('update_settings', [{ trusted_certs: '', blobstores }]), 'ok');
    assert.equal(env.agent!.exitCode, null, 'the agent keeps running');
    assert.equal(await env.call('sync_dns', ['dns-20', sha1(records), 20]), 'synced', 'the blob comes from the new blobstore');
    const updated = JSON.parse(await readFile(join(env.base, 'bosh', 'update_settings.json'), 'utf8'));
    assert.deepEqual(updated.blobstores, blobstores);

    // an update_settings the agent died in (tasks.json) is resumed at the next start and answers "ok"
    assert.equal(await env.stopAgent(), 0);
    const taskId = 'a7e1c7a4-0000-4000-8000-00000000d1ed';
    const payload = Buffer.from(JSON.stringify({ method: 'update_settings', arguments: [{ trusted_certs: '' }], reply_to: 'director.x' })).toString('base64');
    await writeFile(join(env.base, 'bosh', 'tasks.json'), JSON.stringify({ [taskId]: { TaskID: taskId, Method: 'update_settings', Payload: payload } }));
    await env.startAgent();
    assert.equal(await env.pollTask(taskId), 'ok');
    assert.deepEqual(JSON.parse(await readFile(join(env.base, 'bosh', 'update_settings.json'), 'utf8')).blobstores, blobstores, 'kept across the restart');
    await waitFor('task removed from tasks.json', async () => (JSON.parse(await readFile(join(env.base, 'bosh', 'tasks.json'), 'utf8'))[taskId] ? undefined : true));
  });

  await t.test('the agent log <base>/bosh/log/current has svlogd timestamps and no secrets', async () => {
    const log = await readFile(join(env.base, 'bosh', 'log', 'current'), 'utf8');
    const lines = log.split('\n').filter(Boolean);
    assert.ok(lines.length > 10);
    for (const line of lines) assert.match(line, /^\d{4}-\d\d-\d\d_\d\d:\d\d:\d\d\.\d{5} \{/);
    assert.doesNotMatch(log, /PRIVATE KEY/);
  });
});
