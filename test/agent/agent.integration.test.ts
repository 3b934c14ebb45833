// The agent as the dummy CPI runs it: a child process with a File settings source, real nats-server
// with mutual TLS, real monit in spawn mode, the local blobstore provider. Driven over NATS the way
// the director drives it: ping, apply, run_script, start, get_state, stop, compile_package.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, readlink, access } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentEnv, isAlive, renderedJobBlob, sha1, sha256, tarballBlob, waitFor } from './harness.js';

const JOB = 'dummyjob';
const env = new AgentEnv();
const call = (method: string, args: unknown[] = []) => env.call(method, args);
const request = (method: string, args: unknown[] = [], timeoutMs?: number) => env.request(method, args, timeoutMs);

async function buildBlobs() {
  const archive = await renderedJobBlob(env, 'rendered-1', JOB, {
    sleepArg: 100000,
    scripts: {
      'pre-start': '#!/bin/bash\necho "pre-start ran with $GREETING"\n',
      drain: `#!/bin/bash\necho "$@ $BOSH_JOB_NEXT_STATE" > ${env.dir}/drain-args\necho 0\n`,
      run: '#!/bin/bash\necho errand out\necho errand err >&2\nexit 3\n',
    },
  });
  const pkg = await tarballBlob(env, 'pkg-1', { 'hello.txt': 'hello from a package\n' });
  const source = await tarballBlob(env, 'src-1', { packaging: 'set -e\necho "built $BOSH_PACKAGE_NAME $BOSH_PACKAGE_VERSION" > "$BOSH_INSTALL_TARGET/built.txt"\n' });
  return { archive, pkg, source };
}

before(async () => {
  // settings.env.bosh carries a key the director adds and the agent must ignore
  const cert = { ca: env.pki.ca, certificate: env.pki.agent.cert, private_key: env.pki.agent.key };
  env.options.settings = { env: { bosh: { mbus: { cert }, group: 'ignored' } } };
  await env.setup();
  // CAPSTAN_AGENT_BUNDLE=dist/capstan-agent.cjs runs the same checks against the esbuild bundle.
  env.spawnAgent();
});

after(async () => {
  await env.teardown();
});

test('agent deploys and supervises a job through NATS and monit', async (t) => {
  const blobs = await buildBlobs();

  await t.test('answers ping once connected, and env.heartbeats', async () => {
    await waitFor('ping', async () => ((await request('ping', [], 1000)).value === 'pong' ? true : undefined));
    const hb = await waitFor('heartbeat', async () => env.heartbeats[0]);
    assert.deepEqual(Object.keys(hb).sort(), ['deployment', 'index', 'job', 'job_state', 'node_id', 'number_of_processes', 'vitals']);
    assert.equal(hb.job, null);
    assert.equal(hb.job_state, 'running');
    assert.equal(hb.number_of_processes, 0);
    const vitals = hb.vitals as { load: string[]; mem: { kb: string }; uptime: { secs: number } };
    assert.equal(vitals.load.length, 3);
    assert.equal(typeof vitals.mem.kb, 'string');
    assert.equal(typeof vitals.uptime.secs, 'number');
  });

  await t.test('a partial apply (no configuration_hash) only records the spec and instance files', async () => {
    const spec = { deployment: 'dep', job: {}, index: 0, id: 'inst-1', networks: { default: { type: 'manual', ip: '10.245.0.10', netmask: '255.255.255.0', gateway: '10.245.0.1' } } };
    assert.equal(await call('apply', [spec]), 'applied');
    const state = (await call('get_state')) as Record<string, unknown>;
    assert.equal(state.agent_id, env.agentId);
    assert.deepEqual(state.vm, { name: 'vm-test-1' });
    assert.equal((state.networks as Record<string, { ip: string }>).default.ip, '10.245.0.10');
    assert.equal(state.processes, undefined, 'no processes yet');
    assert.equal(await readFile(join(env.base, 'instance', 'id'), 'utf8'), 'inst-1');
  });

  const fullSpec = {
    deployment: 'dep',
    name: 'web',
    index: 0,
    id: 'inst-1',
    az: 'z1',
    job: { name: 'web', template: JOB, version: 'v1', templates: [{ name: JOB, version: 'v1', sha1: 'ignored', blobstore_id: 'ignored' }] },
    packages: { hello: { name: 'hello', version: '1.0.1', sha1: sha1(blobs.pkg), blobstore_id: 'pkg-1' } },
    networks: { default: { type: 'manual', ip: '10.245.0.10', netmask: '255.255.255.0', gateway: '10.245.0.1' } },
    configuration_hash: 'cfg-1',
    persistent_disk: 0,
    rendered_templates_archive: { blobstore_id: 'rendered-1', sha1: `${sha1(blobs.archive)};sha256:${sha256(blobs.archive)}` },
    properties: { password: 'must-not-be-kept' },
  };

  await t.test('apply installs the job and packages on disk', async () => {
    assert.equal(await call('apply', [fullSpec]), 'applied');
    const jobLink = await readlink(join(env.base, 'jobs', JOB));
    assert.ok(jobLink.startsWith(join(env.base, 'data', 'jobs', JOB) + '/'), jobLink);
    await access(join(env.base, 'jobs', JOB, 'bin', 'ctl'));
    assert.equal(await readFile(join(env.base, 'packages', 'hello', 'hello.txt'), 'utf8'), 'hello from a package\n');
    assert.equal(await readFile(join(env.base, 'jobs', JOB, 'packages', 'hello', 'hello.txt'), 'utf8'), 'hello from a package\n');
    const persisted = JSON.parse(await readFile(join(env.base, 'bosh', 'spec.json'), 'utf8'));
    assert.equal(persisted.properties, undefined, 'properties are not persisted');
    assert.deepEqual(persisted.job.templates, [{ name: JOB, version: 'v1' }]);
  });

  await t.test('run_script runs pre-start with the given env and appends to its log', async () => {
    assert.deepEqual(await call('run_script', ['pre-start', { env: { GREETING: 'hi' } }]), {});
    assert.equal(await readFile(join(env.base, 'sys', 'log', JOB, 'pre-start.stdout.log'), 'utf8'), 'pre-start ran with hi\n');
  });

  await t.test('start makes monit run the job; get_state reports it running', async () => {
    assert.equal(await call('start'), 'started');
    const state = await waitFor('job running', async () => {
      const s = (await call('get_state', ['full'])) as { job_state: string; processes?: Array<{ name: string; state: string }> };
      return s.job_state === 'running' && s.processes?.length ? s : undefined;
    });
    assert.equal(state.processes![0].name, JOB);
    assert.equal(state.processes![0].state, 'running');
    assert.ok((state as unknown as { vitals: unknown }).vitals, 'full get_state includes vitals');
    const hb = await waitFor('heartbeat with the job', async () => env.heartbeats.find((h) => h.number_of_processes === 1 && h.job_state === 'running'));
    assert.equal(hb.job, 'web');
    assert.equal(hb.node_id, 'inst-1');
  });

  await t.test('drain runs the drain script with the change arguments and answers 0', async () => {
    const next = { ...fullSpec, configuration_hash: 'cfg-2', persistent_disk: 1024, packages: { ...fullSpec.packages, extra: { name: 'extra', version: '1', sha1: 'abc', blobstore_id: 'x' } } };
    assert.equal(await call('drain', ['update', next]), 0);
    assert.equal(await readFile(join(env.dir, 'drain-args'), 'utf8'), 'job_changed hash_changed extra {"persistent_disk":1024}\n');
  });

  await t.test('stop stops the job and reports job_state stopped', async () => {
    const pid = Number((await readFile(join(env.base, 'sys', 'run', JOB, `${JOB}.pid`), 'utf8')).trim());
    assert.equal(await call('stop'), 'stopped');
    const state = (await call('get_state')) as { job_state: string };
    assert.equal(state.job_state, 'stopped');
    await waitFor('job process gone', async () => (isAlive(pid) ? undefined : true));
  });

  await t.test('run_errand returns output and exit code of bin/run', async () => {
    assert.deepEqual(await call('run_errand', [JOB]), { stdout: 'errand out\n', stderr: 'errand err\n', exit_code: 3 });
    await assert.rejects(call('run_errand', ['missing']), /Could not find errand missing/);
  });

  await t.test('compile_package runs packaging and uploads the compiled tarball', async () => {
    const result = (await call('compile_package', ['src-1', sha1(blobs.source), 'mypkg', '1.0.1', {}])) as { result: { blobstore_id: string; sha1: string } };
    const compiled = await readFile(join(env.blobDir, result.result.blobstore_id));
    assert.equal(sha1(compiled), result.result.sha1);
    const listing = execFileSync('tar', ['-tzf', join(env.blobDir, result.result.blobstore_id)]).toString();
    assert.match(listing, /^\.\/built\.txt$/m);
    const content = execFileSync('tar', ['-xzOf', join(env.blobDir, result.result.blobstore_id), './built.txt']).toString();
    assert.equal(content, 'built mypkg 1.0.1\n');
  });

  await t.test('fetch_logs uploads a tarball of the job logs', async () => {
    const result = (await call('fetch_logs', ['job', null])) as { blobstore_id: string; sha1: string };
    const tarball = join(env.blobDir, result.blobstore_id);
    assert.equal(sha1(await readFile(tarball)), result.sha1);
    assert.match(execFileSync('tar', ['-tzf', tarball]).toString(), new RegExp(`^\\./${JOB}/pre-start\\.stdout\\.log$`, 'm'));
  });

  await t.test('a blob with the wrong digest fails the task with the digest message', async () => {
    await assert.rejects(call('compile_package', ['src-1', 'deadbeef', 'mypkg', '1.0.1', {}]), /Task .* result: .*Checking downloaded blob 'src-1': Expected stream to have digest 'deadbeef' but was/);
  });

  await t.test('SIGTERM (dummy CPI delete_vm) stops the jobs and the monit the agent spawned', async () => {
    assert.equal(await call('start'), 'started');
    const pidFile = join(env.base, 'sys', 'run', JOB, `${JOB}.pid`);
    const jobPid = await waitFor('job pid', async () => Number((await readFile(pidFile, 'utf8')).trim()) || undefined);
    const monitPid = Number((await readFile(join(env.base, 'monit', 'monit.pid'), 'utf8')).trim());
    assert.equal(await env.stopAgent('SIGTERM'), 0);
    for (const pid of [jobPid, monitPid]) {
      await waitFor(`pid ${pid} gone`, async () => (isAlive(pid) ? undefined : true), 10_000);
    }
  });
});
