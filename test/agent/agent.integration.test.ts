// The agent as the dummy CPI runs it: a child process with a File settings source, real nats-server
// with mutual TLS, real monit in spawn mode, the local blobstore provider. Driven over NATS the way
// the director drives it: ping, apply, run_script, start, get_state, stop, compile_package.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, writeFile, readFile, readlink, rm, access } from 'node:fs/promises';
import { createServer } from 'node:net';
import { createHash, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { makePki } from './certs.js';
import { checkNatsServerIdentity } from '../../src/agent/mbus/nats-handler.js';

const AGENT_ID = `agent-${randomUUID().slice(0, 8)}`;
const JOB = 'dummyjob';
let dir: string;
let base: string;
let blobDir: string;
let nats: ChildProcess;
let agent: ChildProcess;
let agentLog = '';
let client: NatsConnection;
const heartbeats: Array<Record<string, unknown>> = [];

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha1 = (data: Buffer) => createHash('sha1').update(data).digest('hex');
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}: ${String(last ?? '')}\nagent log:\n${agentLog.slice(-4000)}`);
    await sleep(250);
  }
}

/** One request/response like the director's NATS RPC: reply_to inside the body. */
async function request(method: string, args: unknown[] = [], timeoutMs = 10_000): Promise<{ value?: unknown; exception?: { message: string } }> {
  const replyTo = `director.test.${AGENT_ID}.${randomUUID()}`;
  const sub = client.subscribe(replyTo, { max: 1, timeout: timeoutMs });
  client.publish(`agent.${AGENT_ID}`, JSON.stringify({ protocol: 3, method, arguments: args, reply_to: replyTo }));
  for await (const msg of sub) return JSON.parse(new TextDecoder().decode(msg.data));
  throw new Error(`no reply to ${method}`);
}

/** Calls a method; async handles are polled with get_task until they finish, as the director does. */
async function call(method: string, args: unknown[] = []): Promise<unknown> {
  const res = await request(method, args);
  if (res.exception) throw new Error(res.exception.message);
  const value = res.value as { agent_task_id?: string; state?: string };
  if (!value || typeof value !== 'object' || !value.agent_task_id || value.state !== 'running') return res.value;
  for (;;) {
    await sleep(200);
    const polled = await request('get_task', [value.agent_task_id]);
    if (polled.exception) throw new Error(polled.exception.message);
    const v = polled.value as { state?: string };
    if (!(v && typeof v === 'object' && v.state === 'running')) return polled.value;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function tgz(srcDir: string, dest: string, entries: string[]): Buffer {
  execFileSync('tar', ['-czf', dest, '-C', srcDir, ...entries]);
  return execFileSync('cat', [dest]);
}

async function buildBlobs() {
  const work = join(dir, 'build');
  // Rendered templates archive with the `./<job>/` prefix the blobstore path produces.
  const jobDir = join(work, 'rendered', JOB);
  await mkdir(join(jobDir, 'bin'), { recursive: true });
  const run = join(base, 'sys', 'run', JOB);
  await writeFile(
    join(jobDir, 'monit'),
    [`check process ${JOB}`, `  with pidfile ${run}/${JOB}.pid`, `  start program "${base}/jobs/${JOB}/bin/ctl start"`, `  stop program "${base}/jobs/${JOB}/bin/ctl stop"`, '  group vcap', ''].join('\n'),
  );
  await writeFile(
    join(jobDir, 'bin', 'ctl'),
    [
      '#!/bin/bash',
      `RUN=${run}`,
      'case "$1" in',
      `  start) mkdir -p $RUN; setsid sleep 100000 </dev/null >/dev/null 2>&1 & echo $! > $RUN/${JOB}.pid ;;`,
      `  stop) kill "$(cat $RUN/${JOB}.pid)"; rm -f $RUN/${JOB}.pid ;;`,
      'esac',
      '',
    ].join('\n'),
  );
  await writeFile(join(jobDir, 'bin', 'pre-start'), '#!/bin/bash\necho "pre-start ran with $GREETING"\n');
  await writeFile(join(jobDir, 'bin', 'drain'), `#!/bin/bash\necho "$@ $BOSH_JOB_NEXT_STATE" > ${dir}/drain-args\necho 0\n`);
  await writeFile(join(jobDir, 'bin', 'run'), '#!/bin/bash\necho errand out\necho errand err >&2\nexit 3\n');
  const archive = tgz(join(work, 'rendered'), join(work, 'rendered.tgz'), [`./${JOB}`]);
  await writeFile(join(blobDir, 'rendered-1'), archive);

  const pkgDir = join(work, 'pkg');
  await mkdir(pkgDir, { recursive: true });
  await writeFile(join(pkgDir, 'hello.txt'), 'hello from a package\n');
  const pkg = tgz(pkgDir, join(work, 'pkg.tgz'), ['.']);
  await writeFile(join(blobDir, 'pkg-1'), pkg);

  const srcDir = join(work, 'src');
  await mkdir(srcDir, { recursive: true });
  await writeFile(join(srcDir, 'packaging'), 'set -e\necho "built $BOSH_PACKAGE_NAME $BOSH_PACKAGE_VERSION" > "$BOSH_INSTALL_TARGET/built.txt"\n');
  const source = tgz(srcDir, join(work, 'src.tgz'), ['.']);
  await writeFile(join(blobDir, 'src-1'), source);
  return { archive, pkg, source };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'capstan-agent-it-'));
  base = join(dir, 'vcap');
  blobDir = join(dir, 'blobstore');
  await mkdir(blobDir, { recursive: true });
  const pki = makePki(AGENT_ID);
  const certs = join(dir, 'certs');
  await mkdir(certs);
  for (const [name, pem] of Object.entries({ nats: pki.nats })) {
    await writeFile(join(certs, `${name}.pem`), pem.cert);
    await writeFile(join(certs, `${name}.key`), pem.key);
  }
  await writeFile(join(certs, 'ca.pem'), pki.ca);

  const natsPort = await freePort();
  await writeFile(
    join(dir, 'nats.conf'),
    `listen: 127.0.0.1:${natsPort}\ntls {\n  cert_file: "${certs}/nats.pem"\n  key_file: "${certs}/nats.key"\n  ca_file: "${certs}/ca.pem"\n  verify: true\n  timeout: 5\n}\n`,
  );
  nats = spawn('nats-server', ['-c', join(dir, 'nats.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  // nats.js sends no servername for IP hosts, so node would check the cert against "localhost":
  // verify the CN the way the agent does instead.
  const tls = { ca: pki.ca, cert: pki.director.cert, key: pki.director.key, checkServerIdentity: checkNatsServerIdentity } as never;
  client = await waitFor('nats-server', async () => connect({ servers: `127.0.0.1:${natsPort}`, tls }), 15_000);
  const hbSub = client.subscribe(`hm.agent.heartbeat.${AGENT_ID}`);
  void (async () => {
    for await (const m of hbSub) heartbeats.push(JSON.parse(new TextDecoder().decode(m.data)));
  })();

  await writeFile(
    join(dir, 'settings.json'),
    JSON.stringify({
      agent_id: AGENT_ID,
      blobstore: { provider: 'local', options: { blobstore_path: blobDir } },
      disks: { system: '/dev/sda', persistent: {} },
      env: { bosh: { mbus: { cert: { ca: pki.ca, certificate: pki.agent.cert, private_key: pki.agent.key } }, group: 'ignored' } },
      networks: { default: { type: 'manual', ip: '10.245.0.10', netmask: '255.255.255.0', gateway: '10.245.0.1', default: ['dns', 'gateway'] } },
      ntp: [],
      mbus: `nats://127.0.0.1:${natsPort}`,
      vm: { name: 'vm-test-1' },
    }),
  );
  await writeFile(
    join(dir, 'agent.json'),
    JSON.stringify({
      Platform: { Linux: {} },
      Infrastructure: { Settings: { Sources: [{ Type: 'File', SettingsPath: join(dir, 'settings.json') }] } },
      Capstan: { MonitPort: await freePort(), AlertSmtpPort: await freePort(), Monit: 'spawn', MonitPollSeconds: 1 },
    }),
  );
  // CAPSTAN_AGENT_BUNDLE=dist/capstan-agent.cjs runs the same checks against the esbuild bundle.
  const entry = process.env.CAPSTAN_AGENT_BUNDLE ? [process.env.CAPSTAN_AGENT_BUNDLE] : ['--import', 'tsx', 'src/agent/main.ts'];
  agent = spawn(process.execPath, [...entry, '-P', 'dummy', '-C', join(dir, 'agent.json'), '-b', base], {
    cwd: join(import.meta.dirname, '..', '..'),
    env: { ...process.env, CAPSTAN_HEARTBEAT_INTERVAL_MS: '1000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  agent.stdout!.on('data', (c: Buffer) => (agentLog += c.toString()));
  agent.stderr!.on('data', (c: Buffer) => (agentLog += c.toString()));
});

after(async () => {
  if (agent && agent.exitCode === null) {
    const exited = new Promise((r) => agent.once('exit', r));
    agent.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000).unref())]);
    if (agent.exitCode === null) agent.kill('SIGKILL');
    if (process.env.AGENT_TEST_DEBUG) console.error(agentLog.slice(-3000));
  }
  await client?.close();
  if (nats && nats.exitCode === null) {
    const exited = new Promise((r) => nats.once('exit', r));
    nats.kill('SIGTERM');
    await exited;
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('agent deploys and supervises a job through NATS and monit', async (t) => {
  const blobs = await buildBlobs();

  await t.test('answers ping once connected, and heartbeats', async () => {
    await waitFor('ping', async () => ((await request('ping', [], 1000)).value === 'pong' ? true : undefined));
    const hb = await waitFor('heartbeat', async () => heartbeats[0]);
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
    assert.equal(state.agent_id, AGENT_ID);
    assert.deepEqual(state.vm, { name: 'vm-test-1' });
    assert.equal((state.networks as Record<string, { ip: string }>).default.ip, '10.245.0.10');
    assert.equal(state.processes, undefined, 'no processes yet');
    assert.equal(await readFile(join(base, 'instance', 'id'), 'utf8'), 'inst-1');
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
    const jobLink = await readlink(join(base, 'jobs', JOB));
    assert.ok(jobLink.startsWith(join(base, 'data', 'jobs', JOB) + '/'), jobLink);
    await access(join(base, 'jobs', JOB, 'bin', 'ctl'));
    assert.equal(await readFile(join(base, 'packages', 'hello', 'hello.txt'), 'utf8'), 'hello from a package\n');
    assert.equal(await readFile(join(base, 'jobs', JOB, 'packages', 'hello', 'hello.txt'), 'utf8'), 'hello from a package\n');
    const persisted = JSON.parse(await readFile(join(base, 'bosh', 'spec.json'), 'utf8'));
    assert.equal(persisted.properties, undefined, 'properties are not persisted');
    assert.deepEqual(persisted.job.templates, [{ name: JOB, version: 'v1' }]);
  });

  await t.test('run_script runs pre-start with the given env and appends to its log', async () => {
    assert.deepEqual(await call('run_script', ['pre-start', { env: { GREETING: 'hi' } }]), {});
    assert.equal(await readFile(join(base, 'sys', 'log', JOB, 'pre-start.stdout.log'), 'utf8'), 'pre-start ran with hi\n');
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
    const hb = await waitFor('heartbeat with the job', async () => heartbeats.find((h) => h.number_of_processes === 1 && h.job_state === 'running'));
    assert.equal(hb.job, 'web');
    assert.equal(hb.node_id, 'inst-1');
  });

  await t.test('drain runs the drain script with the change arguments and answers 0', async () => {
    const next = { ...fullSpec, configuration_hash: 'cfg-2', persistent_disk: 1024, packages: { ...fullSpec.packages, extra: { name: 'extra', version: '1', sha1: 'abc', blobstore_id: 'x' } } };
    assert.equal(await call('drain', ['update', next]), 0);
    assert.equal(await readFile(join(dir, 'drain-args'), 'utf8'), 'job_changed hash_changed extra {"persistent_disk":1024}\n');
  });

  await t.test('stop stops the job and reports job_state stopped', async () => {
    const pid = Number((await readFile(join(base, 'sys', 'run', JOB, `${JOB}.pid`), 'utf8')).trim());
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
    const compiled = await readFile(join(blobDir, result.result.blobstore_id));
    assert.equal(sha1(compiled), result.result.sha1);
    const listing = execFileSync('tar', ['-tzf', join(blobDir, result.result.blobstore_id)]).toString();
    assert.match(listing, /^\.\/built\.txt$/m);
    const content = execFileSync('tar', ['-xzOf', join(blobDir, result.result.blobstore_id), './built.txt']).toString();
    assert.equal(content, 'built mypkg 1.0.1\n');
  });

  await t.test('fetch_logs uploads a tarball of the job logs', async () => {
    const result = (await call('fetch_logs', ['job', null])) as { blobstore_id: string; sha1: string };
    const tarball = join(blobDir, result.blobstore_id);
    assert.equal(sha1(await readFile(tarball)), result.sha1);
    assert.match(execFileSync('tar', ['-tzf', tarball]).toString(), new RegExp(`^\\./${JOB}/pre-start\\.stdout\\.log$`, 'm'));
  });

  await t.test('a blob with the wrong digest fails the task with the digest message', async () => {
    await assert.rejects(call('compile_package', ['src-1', 'deadbeef', 'mypkg', '1.0.1', {}]), /Task .* result: .*Checking downloaded blob 'src-1': Expected stream to have digest 'deadbeef' but was/);
  });

  await t.test('SIGTERM (dummy CPI delete_vm) stops the jobs and the monit the agent spawned', async () => {
    assert.equal(await call('start'), 'started');
    const pidFile = join(base, 'sys', 'run', JOB, `${JOB}.pid`);
    const jobPid = await waitFor('job pid', async () => Number((await readFile(pidFile, 'utf8')).trim()) || undefined);
    const monitPid = Number((await readFile(join(base, 'monit', 'monit.pid'), 'utf8')).trim());
    const exited = new Promise((r) => agent.once('exit', r));
    agent.kill('SIGTERM');
    assert.equal(await exited, 0);
    for (const pid of [jobPid, monitPid]) {
      await waitFor(`pid ${pid} gone`, async () => (isAlive(pid) ? undefined : true), 10_000);
    }
  });
});
