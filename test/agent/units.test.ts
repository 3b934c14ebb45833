// Pieces around the seams: alert parsing and SMTP listener, settings sources (HTTP, ConfigDrive,
// cache fallback), doublestar log filters, the 5-slot task queue, heartbeat retries, svlogd lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile, rm, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';
import { createLogger } from '../../src/common/logging.js';
import { alertSeverity, parseMonitMail, startAlertListener, toAgentAlert, type MonitAlert } from '../../src/agent/alerts.js';
import { loadSettings } from '../../src/agent/settings.js';
import { globToRegExp, matchLogFiles } from '../../src/agent/logs.js';
import { TaskManager, TASK_QUEUE_SLOTS } from '../../src/agent/mbus/task-manager.js';
import { Heartbeater } from '../../src/agent/heartbeat.js';
import { SvlogdFile, svlogdTimestamp } from '../../src/agent/agent-log.js';
import type { Action } from '../../src/agent/actions/action.js';

const quiet = createLogger('agent-test', { write: () => true } as never, 'silent');

const MAIL = [
  'Date: Sat, 21 Nov 2026 12:00:00 +0000',
  'From: monit@localhost',
  'Subject: Monit Alert',
  'Message-id: <1795262398.12345.abcd@host>',
  '',
  'Service: nginx',
  'Event: Does not exist',
  'Action: restart',
  'Date: Sat, 21 Nov 2026 12:00:05 +0000',
  'Description: process is not running',
  '',
].join('\r\n');

test('alerts: severity table, title with sorted IPs, RFC1123Z date, ignored events', () => {
  assert.equal(alertSeverity('Does not exist'), 1);
  assert.equal(alertSeverity('timeout'), 2);
  assert.equal(alertSeverity('resource limit matched'), 3);
  assert.equal(alertSeverity('pid changed'), 4);
  assert.equal(alertSeverity('something new'), 2);
  for (const ignored of ['action done', 'Exists', 'connection succeeded', 'checksum not changed', 'timeout recovery']) assert.equal(alertSeverity(ignored), -1);
  const monit = parseMonitMail(MAIL)!;
  assert.deepEqual(monit, {
    id: '1795262398.12345.abcd@host',
    service: 'nginx',
    event: 'Does not exist',
    action: 'restart',
    date: 'Sat, 21 Nov 2026 12:00:05 +0000',
    description: 'process is not running',
  });
  const networks = { b: { ip: '10.0.0.9' }, a: { ip: '10.0.0.10' }, c: {} };
  assert.deepEqual(toAgentAlert(monit, networks), {
    id: '1795262398.12345.abcd@host',
    severity: 1,
    title: 'nginx (10.0.0.10, 10.0.0.9) - Does not exist - restart',
    summary: 'process is not running',
    created_at: Date.parse('2026-11-21T12:00:05Z') / 1000,
  });
  assert.equal(toAgentAlert({ ...monit, event: 'Exists' }, networks), undefined);
  assert.equal(toAgentAlert(monit, {})!.title, 'nginx - Does not exist - restart');
  const now = new Date('2026-01-01T00:00:00Z');
  assert.equal(toAgentAlert({ ...monit, date: 'garbage' }, {}, now)!.created_at, now.getTime() / 1000);
  assert.equal(parseMonitMail('\r\n\r\nnothing here\r\n'), undefined);
});

test('alerts: the SMTP listener accepts real SMTP mail and hands over parsed alerts', async () => {
  const received: MonitAlert[] = [];
  const listener = await startAlertListener(0, (a) => received.push(a), quiet);
  try {
    const transport = createTransport({ host: '127.0.0.1', port: listener.port, secure: false, ignoreTLS: true });
    await transport.sendMail({ envelope: { from: 'monit@localhost', to: ['agent@local'] }, raw: MAIL });
    assert.equal(received.length, 1);
    assert.equal(received[0].service, 'nginx');
    assert.equal(received[0].id, '1795262398.12345.abcd@host');
  } finally {
    await listener.close();
  }
});

test('settings: HTTP metadata (embedded settings, registry, IMDSv2 token), ConfigDrive dir, cached fallback', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'capstan-settings-'));
  const seen: Array<{ url: string; token?: string }> = [];
  const server = createServer((req, res) => {
    seen.push({ url: req.url!, token: req.headers['x-aws-ec2-metadata-token'] as string | undefined });
    if (req.method === 'PUT' && req.url === '/latest/api/token') return void res.end('tok-1');
    if (req.url === '/embedded/user-data') return void res.end(JSON.stringify({ agent_id: 'from-http', mbus: 'nats://x:4222' }));
    if (req.url === '/registry/user-data') return void res.end(JSON.stringify({ registry: { endpoint: `http://127.0.0.1:${port}/reg` } }));
    if (req.url === '/registry/meta-data/instance-id') return void res.end('i-123\n');
    if (req.url === '/reg/instances/i-123/settings') return void res.end(JSON.stringify({ settings: JSON.stringify({ agent_id: 'from-registry' }) }));
    res.writeHead(404).end();
  });
  const port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port)));
  try {
    const cache = join(dir, 'settings.json');
    const http = { Type: 'HTTP', URI: `http://127.0.0.1:${port}`, UserDataPath: '/embedded/user-data', TokenPath: '/latest/api/token' };
    assert.equal((await loadSettings([http], cache)).agent_id, 'from-http');
    assert.ok(seen.some((s) => s.url === '/embedded/user-data' && s.token === 'tok-1'), 'IMDSv2 token sent');
    const registry = { Type: 'HTTP', URI: `http://127.0.0.1:${port}`, UserDataPath: '/registry/user-data', InstanceIDPath: '/registry/meta-data/instance-id' };
    assert.equal((await loadSettings([registry], cache)).agent_id, 'from-registry');

    const drive = join(dir, 'config-2');
    await mkdir(join(drive, 'ec2', 'latest'), { recursive: true });
    await writeFile(join(drive, 'ec2', 'latest', 'user-data'), JSON.stringify({ agent_id: 'from-drive', vm: { name: 'vm-1' } }));
    const configDrive = { Type: 'ConfigDrive', DiskPaths: [join(dir, 'missing'), drive], MetaDataPath: 'ec2/latest/meta-data.json', UserDataPath: 'ec2/latest/user-data' };
    const fromDrive = await loadSettings([{ Type: 'File', SettingsPath: join(dir, 'nope.json') }, configDrive], cache);
    assert.equal(fromDrive.agent_id, 'from-drive');
    assert.deepEqual(fromDrive.vm, { name: 'vm-1' });

    // Every source gone: the cached copy is used.
    await rm(drive, { recursive: true });
    assert.equal((await loadSettings([configDrive], cache)).agent_id, 'from-drive');
    await rm(cache);
    await assert.rejects(loadSettings([configDrive], cache), /Fetching settings: Reading config drive/);
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('fetch_logs filters: doublestar globs, directories mean everything below them', async () => {
  assert.ok(globToRegExp('**/*.log').test('a/b/c.log'));
  assert.ok(globToRegExp('**/*.log').test('c.log'));
  assert.ok(!globToRegExp('*.log').test('a/c.log'));
  assert.ok(globToRegExp('job/{a,b}.log').test('job/b.log'));
  assert.ok(globToRegExp('x?.[ab]').test('x1.b'));
  const dir = await mkdtemp(join(tmpdir(), 'capstan-logs-'));
  try {
    await mkdir(join(dir, 'web', 'sub'), { recursive: true });
    await mkdir(join(dir, 'db'), { recursive: true });
    for (const f of ['web/a.log', 'web/sub/b.log', 'web/c.txt', 'db/d.log']) await writeFile(join(dir, f), f);
    assert.deepEqual((await matchLogFiles(dir, null)).sort(), ['db/d.log', 'web/a.log', 'web/c.txt', 'web/sub/b.log']);
    assert.deepEqual((await matchLogFiles(dir, ['web'])).sort(), ['web/a.log', 'web/c.txt', 'web/sub/b.log']);
    assert.deepEqual((await matchLogFiles(dir, ['**/*.log'])).sort(), ['db/d.log', 'web/a.log', 'web/sub/b.log']);
    assert.deepEqual(await matchLogFiles(dir, ['web/*.txt']), ['web/c.txt']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('task queue: 5 slots; a sixth async request waits until the worker takes one', async () => {
  const tasks = new TaskManager();
  const gates: Array<() => void> = [];
  const action = { name: 'slow', isAsynchronous: true, requiredArgs: 0, run: async () => undefined } as Action;
  const run = () => new Promise<void>((resolve) => gates.push(resolve));
  tasks.start(action, run); // taken by the worker at once
  await new Promise((r) => setImmediate(r));
  for (let i = 0; i < TASK_QUEUE_SLOTS; i++) {
    await tasks.waitForSlot();
    tasks.start(action, run);
  }
  let waited = false;
  const sixth = tasks.waitForSlot().then(() => (waited = true));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(waited, false, 'the queue is full');
  gates.shift()!(); // first task done: the worker takes the next one, freeing a slot
  await sixth;
  assert.equal(waited, true);
  // Let the remaining tasks finish one after the other.
  for (let i = 0; i < TASK_QUEUE_SLOTS + 1; i++) {
    await new Promise((r) => setTimeout(r, 5));
    gates.shift()?.();
  }
  await tasks.idle();
});

test('heartbeat: later heartbeats are retried; giving up is fatal', async () => {
  const deps = {
    specStore: { read: async () => ({}) },
    supervisor: { jobState: async () => 'running', numberOfProcesses: async () => 0 },
    vitals: async () => ({}),
    healthPath: join(tmpdir(), `health-${process.pid}.json`),
  } as never;
  let calls = 0;
  let fatal: Error | undefined;
  const hb = new Heartbeater(
    deps,
    async () => {
      calls++;
      if (calls > 1) throw new Error('nats down');
    },
    quiet,
    (err) => (fatal = err),
    20,
    1,
  );
  await hb.start();
  const deadline = Date.now() + 5000;
  while (!fatal && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  hb.stop();
  assert.equal(calls, 1 + 60, 'first heartbeat, then 60 attempts of the next one');
  assert.match(String(fatal?.message), /Sending heartbeat: nats down/);
  await rm(join(tmpdir(), `health-${process.pid}.json`), { force: true });
});

test('agent log: svlogd -tt timestamps, one per line, redacted by the logger', async () => {
  assert.match(svlogdTimestamp(new Date('2026-11-21T12:16:27.123Z')), /^2026-11-21_12:16:27\.12300$/);
  const dir = await mkdtemp(join(tmpdir(), 'capstan-log-'));
  try {
    const logger = createLogger('agent', new SvlogdFile(dir) as never);
    logger.info({ password: 'hunter2', url: 'https://user:secret@host/x' }, 'hello');
    const text = await readFile(join(dir, 'current'), 'utf8');
    assert.match(text, /^\d{4}-\d\d-\d\d_\d\d:\d\d:\d\d\.\d{5} \{.*"msg":"hello"/);
    assert.doesNotMatch(text, /hunter2|secret/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});


test('s3 provider: signed PUT/GET/HEAD/DELETE of <folder>/<id> in the bucket (path style), 404 -> BlobNotFound', async () => {
  const { S3Blobstore } = await import('../../src/agent/s3-blobstore.js');
  const aws4 = (await import('aws4')).default;
  const objects = new Map<string, Buffer>();
  const badSignatures: string[] = [];
  const server = createServer((req, res) => {
    // Re-sign what arrived with the same date: the signature must match.
    const headers: Record<string, string> = {};
    for (const name of ['content-length', 'content-type', 'x-amz-content-sha256', 'x-amz-date']) {
      if (req.headers[name]) headers[name] = String(req.headers[name]);
    }
    const check = { method: req.method, host: req.headers.host, path: req.url, service: 's3', region: 'eu-west-1', headers };
    aws4.sign(check, { accessKeyId: 'AKID', secretAccessKey: 'SECRET' });
    if ((check.headers as Record<string, string>).Authorization !== req.headers.authorization) badSignatures.push(String(req.url));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const key = req.url!;
      if (req.method === 'PUT') return void (objects.set(key, Buffer.concat(chunks)), res.writeHead(200).end());
      if (req.method === 'DELETE') return void (objects.delete(key), res.writeHead(204).end());
      const obj = objects.get(key);
      if (!obj) return void res.writeHead(404).end('<Error><Code>NoSuchKey</Code></Error>');
      res.writeHead(200).end(req.method === 'HEAD' ? undefined : obj);
    });
  });
  const port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port)));
  const dir = await mkdtemp(join(tmpdir(), 'capstan-s3-'));
  try {
    const store = new S3Blobstore({ bucket_name: 'bkt', access_key_id: 'AKID', secret_access_key: 'SECRET', region: 'eu-west-1', host: '127.0.0.1', port, use_ssl: false, folder_name: 'blobs' });
    await writeFile(join(dir, 'in'), 'compiled package');
    assert.equal(await store.put(join(dir, 'in'), 'id-1'), 'id-1');
    assert.deepEqual([...objects.keys()], ['/bkt/blobs/id-1']);
    await store.get('id-1', join(dir, 'out'));
    assert.equal(await readFile(join(dir, 'out'), 'utf8'), 'compiled package');
    assert.equal(await store.exists('id-1'), true);
    await store.delete('id-1');
    assert.equal(await store.exists('id-1'), false);
    await assert.rejects(store.get('id-1', join(dir, 'out2')), /Blob 'id-1' not found/);
    assert.deepEqual(badSignatures, []);
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('ubuntu disk mounter: bind mount of a directory disk (symlink where mounting is not allowed)', async () => {
  const { LinuxMounter } = await import('../../src/agent/platform/disks.js');
  const dir = await mkdtemp(join(tmpdir(), 'capstan-mount-'));
  const mounter = new LinuxMounter(join(dir, 'mounts.json'));
  const disk = join(dir, 'disk');
  const store = join(dir, 'store');
  try {
    await mkdir(disk);
    await mkdir(store, { mode: 0o700 });
    await mounter.mount(disk, store);
    assert.equal(await mounter.mountedDevice(store), disk);
    await writeFile(join(store, 'f'), 'on the disk');
    assert.equal(await readFile(join(disk, 'f'), 'utf8'), 'on the disk');
    assert.equal(await mounter.unmount(store), true);
    assert.equal(await mounter.mountedDevice(store), undefined);
    assert.equal(await mounter.unmount(store), false);
  } finally {
    await mounter.unmount(store).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
});

test('ubuntu sys/run: a tmpfs of env.bosh.run_dir.tmpfs_size, left alone once jobs use the directory', async () => {
  const { mountRunDirTmpfs, runDirTmpfsSize } = await import('../../src/agent/platform/layout.js');
  const { vcapPaths } = await import('../../src/agent/platform/paths.js');
  const { execFileSync } = await import('node:child_process');
  assert.equal(runDirTmpfsSize(undefined), '16m');
  assert.equal(runDirTmpfsSize({ run_dir: { tmpfs_size: '32m' } }), '32m');
  assert.equal(runDirTmpfsSize({ run_dir: { tmpfs_size: '1m; reboot' } }), '16m');
  const dir = await mkdtemp(join(tmpdir(), 'capstan-run-tmpfs-'));
  const paths = vcapPaths(join(dir, 'vcap'));
  const mountLine = async () => (await readFile('/proc/mounts', 'utf8')).split('\n').find((l) => l.split(' ')[1] === paths.sysRun);
  try {
    await mkdir(join(paths.sysRun, 'job'), { recursive: true });
    await mountRunDirTmpfs(paths, '1m', quiet);
    assert.equal(await mountLine(), undefined, 'a directory jobs use is not hidden under a new mount');
    await rm(join(paths.sysRun, 'job'), { recursive: true });
    await mountRunDirTmpfs(paths, '1m', quiet);
    // this host lets root mount; a container without CAP_SYS_ADMIN keeps the directory instead
    const line = await mountLine();
    if (line) assert.match(line, /^tmpfs \S+ tmpfs \S*size=1024k/);
    await mountRunDirTmpfs(paths, '1m', quiet);
    assert.equal((await readFile('/proc/mounts', 'utf8')).split('\n').filter((l) => l.split(' ')[1] === paths.sysRun).length, line ? 1 : 0, 'mounted once');
  } finally {
    if (await mountLine()) execFileSync('umount', [paths.sysRun]);
    await rm(dir, { recursive: true, force: true });
  }
});

test('agent.json Capstan timeouts: positive seconds or absent (bosh-agent defaults)', async () => {
  const { loadAgentConfig } = await import('../../src/agent/settings.js');
  const dir = await mkdtemp(join(tmpdir(), 'capstan-agent-json-'));
  const write = async (capstan: Record<string, unknown>) => {
    const path = join(dir, 'agent.json');
    await writeFile(path, JSON.stringify({ Infrastructure: { Settings: { Sources: [{ Type: 'File', SettingsPath: '/x' }] } }, Capstan: capstan }));
    return path;
  };
  try {
    const defaults = await loadAgentConfig(await write({}));
    assert.equal(defaults.Capstan.StopTimeoutSeconds, undefined);
    assert.equal((await loadAgentConfig(await write({ StopTimeoutSeconds: 4, ReloadTimeoutSeconds: 0.5 }))).Capstan.ReloadTimeoutSeconds, 0.5);
    await assert.rejects(loadAgentConfig(await write({ StopTimeoutSeconds: -1 })), /Capstan\.StopTimeoutSeconds must be a positive number of seconds/);
    await assert.rejects(loadAgentConfig(await write({ ReloadTimeoutSeconds: '10' })), /Capstan\.ReloadTimeoutSeconds must be a positive number of seconds/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
