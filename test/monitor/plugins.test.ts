// Every plugin against a real local peer: an SMTP server, HTTP servers standing in for
// PagerDuty / DataDog / Consul / the director, TCP servers for graphite and riemann, and
// executables for the json plugin.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { createLogger } from '../../src/common/logging.js';
import { AgentRegistry } from '../../src/monitor/agents.js';
import { parseMonitorConfig } from '../../src/monitor/config.js';
import { DirectorClient } from '../../src/monitor/director-client.js';
import { AlertEvent } from '../../src/monitor/events/alert.js';
import { HeartbeatEvent } from '../../src/monitor/events/heartbeat.js';
import { PLUGINS } from '../../src/monitor/plugins/index.js';
import { validateOptions, type Plugin, type PluginContext } from '../../src/monitor/plugins/plugin.js';
import { ResurrectionRules } from '../../src/monitor/resurrection-config.js';
import { cleanupPki, FakeDirector, makePki, waitFor } from './helpers.js';

const pki = makePki();
const work = mkdtempSync(join(tmpdir(), 'capstan-hm-plugins-'));
after(() => {
  rmSync(work, { recursive: true, force: true });
  cleanupPki(pki);
});

const logLines: string[] = [];
const logger = createLogger('plugins-test', { write: (line: string) => void logLines.push(line) }, 'info');

function context(director?: FakeDirector): PluginContext {
  const access = { endpoint: `https://127.0.0.1:${director?.port ?? 1}`, user: director?.user ?? 'u', password: director?.password ?? 'p', ca_cert: pki.ca };
  const config = parseMonitorConfig({ mbus: { endpoint: 'nats://x', server_ca_path: '', client_certificate_path: '', client_private_key_path: '' }, director: access });
  return { logger, registry: new AgentRegistry(), director: new DirectorClient(access), directorAccess: access, intervals: config.intervals, resurrection: new ResurrectionRules(), emitAlert: () => {} };
}

async function plugin(name: string, options: unknown, ctx = context()): Promise<Plugin> {
  const factory = PLUGINS[name]!;
  const p = factory.create(validateOptions(name, factory, options), ctx);
  await p.run?.();
  return p;
}

const now = Math.floor(Date.now() / 1000);
const alert = (extra: Partial<ConstructorParameters<typeof AlertEvent>[0]> = {}) =>
  new AlertEvent({ id: 'alert-1', severity: 2, title: 'a-1 has timed out', summary: 'a-1 has timed out', source: 'dep: web(uuid-1) [id=a-1, index=0, cid=vm-1]', deployment: 'dep', job: 'web', instance_id: 'uuid-1', category: 'vm_health', created_at: now, ...extra });
const heartbeat = (jobState = 'running') =>
  new HeartbeatEvent({
    timestamp: now,
    deployment: 'dep',
    agent_id: 'a-1',
    job: 'web',
    index: 0,
    instance_id: 'uuid-1',
    job_state: jobState,
    teams: ['t1'],
    vitals: { cpu: { user: '1.5', sys: '0.5', wait: '0.0' }, mem: { kb: '100', percent: '10' }, swap: { kb: '0', percent: '0' }, load: ['0.10', '0.05', '0.01'], uptime: { secs: 3 } },
    number_of_processes: 1,
  });

interface Captured {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

async function httpPeer(): Promise<{ server: Server; base: string; requests: Captured[] }> {
  const requests: Captured[] = [];
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, base: `http://127.0.0.1:${(server.address() as { port: number }).port}`, requests };
}

async function tcpPeer(onData: (socket: Socket, chunk: Buffer) => void): Promise<{ server: TcpServer; port: number }> {
  const server = createTcpServer((socket) => socket.on('data', (chunk) => onData(socket, chunk)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port };
}

const closeServer = (server: Server | TcpServer) => new Promise((r) => server.close(r));

test('logger: "[ALERT] <text>" lines, or the event JSON', async () => {
  (await plugin('logger', {})).process(alert());
  assert.ok(logLines.some((l) => JSON.parse(l).msg.startsWith('[ALERT] Alert @ ') && JSON.parse(l).msg.endsWith('severity 2: a-1 has timed out')));
  (await plugin('logger', { format: 'json' })).process(alert({ id: 'json-1' }));
  assert.ok(logLines.some((l) => JSON.parse(l).msg.startsWith('{') && JSON.parse(JSON.parse(l).msg).id === 'json-1'));
});

test('event_logger: alerts become director events (POST /events)', async () => {
  const director = new FakeDirector(pki);
  await director.start();
  try {
    const p = await plugin('event_logger', {}, context(director));
    await p.process(alert());
    const post = director.requests.find((r) => r.method === 'POST' && r.url === '/events')!;
    const body = JSON.parse(post.body);
    assert.equal(body.action, 'create');
    assert.equal(body.object_type, 'alert');
    assert.equal(body.object_name, 'alert-1');
    assert.equal(body.deployment, 'dep');
    assert.equal(body.instance, 'web/uuid-1');
    assert.match(body.context.message, /a-1 has timed out/);
  } finally {
    await director.stop();
  }
});

test('json: every event as a JSON line to each bosh-monitor executable, restarted when it exits', async () => {
  const jobs = join(work, 'jobs');
  for (const job of ['logger', 'auditor']) mkdirSync(join(jobs, job, 'bin', 'bosh-monitor'), { recursive: true });
  const out = join(work, 'json-out');
  const forever = join(jobs, 'logger', 'bin', 'bosh-monitor', 'log-all');
  writeFileSync(forever, `#!/bin/sh\nwhile read -r line; do printf '%s\\n' "$line" >> ${out}.all; done\n`);
  const once = join(jobs, 'auditor', 'bin', 'bosh-monitor', 'one-then-exit');
  writeFileSync(once, `#!/bin/sh\nread -r line; printf '%s\\n' "$line" >> ${out}.once; exit 0\n`);
  writeFileSync(join(jobs, 'auditor', 'bin', 'bosh-monitor', 'not-executable'), 'data');
  chmodSync(forever, 0o755);
  chmodSync(once, 0o755);
  const p = await plugin('json', { glob: join(jobs, '*', 'bin', 'bosh-monitor', '*'), restart_delay: 0.1 });
  try {
    await p.process(alert());
    await p.process(heartbeat());
    const lines = await waitFor('two lines', () => existsSync(`${out}.all`) && readFileSync(`${out}.all`, 'utf8').trim().split('\n').length >= 2 && readFileSync(`${out}.all`, 'utf8').trim().split('\n'));
    assert.equal(JSON.parse(lines[0]!).kind, 'alert');
    assert.equal(JSON.parse(lines[0]!).id, 'alert-1');
    const hb = JSON.parse(lines[1]!);
    assert.equal(hb.kind, 'heartbeat');
    assert.equal(hb.instance_id, 'uuid-1');
    assert.ok(hb.metrics.some((m: { name: string; value: string }) => m.name === 'system.cpu.user' && m.value === '1.5'));
    // The one-shot process got the first event, exited 0, and was restarted for later events.
    await waitFor('the one-shot restarted', () => logLines.some((l) => l.includes('one-then-exit exited')));
    await new Promise((r) => setTimeout(r, 300));
    await p.process(alert({ id: 'after-restart' }));
    await waitFor('the restarted process to get an event', () => existsSync(`${out}.once`) && readFileSync(`${out}.once`, 'utf8').includes('after-restart'));
  } finally {
    await p.stop?.();
  }
});

test('email: alerts batched per interval into one mail over SMTP', async () => {
  const mails: { from: string; to: string[]; data: string }[] = [];
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), data: Buffer.concat(chunks).toString() });
        callback();
      });
    },
  });
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
  const port = (smtp.server.address() as { port: number }).port;
  const p = await plugin('email', { recipients: ['ops@example.com', 'dev@example.com'], smtp: { from: 'hm@example.com', host: '127.0.0.1', port }, interval: 0.2 });
  try {
    await p.process(alert());
    await p.process(alert({ id: 'alert-2', title: 'b-2 has timed out', summary: 'b-2 has timed out' }));
    const [mail] = await waitFor('a mail', () => mails.length > 0 && mails);
    assert.equal(mail!.from, 'hm@example.com');
    assert.deepEqual(mail!.to, ['ops@example.com', 'dev@example.com']);
    assert.match(mail!.data, /Subject: 2 alerts from BOSH Health Monitor/);
    assert.match(mail!.data, /a-1 has timed out\r?\nSeverity: 2\r?\nSummary: a-1 has timed out\r?\nTime: /);
    assert.match(mail!.data, /b-2 has timed out/);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(mails.length, 1, 'one mail per batch');
  } finally {
    await p.stop?.();
    await new Promise<void>((r) => smtp.close(() => r()));
  }
});

test('email: options without smtp.host are refused', () => {
  assert.throws(() => validateOptions('email', PLUGINS.email!, { recipients: ['a@b'], smtp: { from: 'x@y', port: 25 } }), /Invalid options for plugin 'email': smtp\.host/);
});

test('pagerduty: a trigger per alert, incident key = alert id', async () => {
  const peer = await httpPeer();
  try {
    const p = await plugin('pagerduty', { service_key: 'svc-key', endpoint: `${peer.base}/generic/2010-04-15/create_event.json` });
    await p.process(alert());
    const [req] = peer.requests;
    assert.equal(req!.method, 'POST');
    assert.equal(req!.url, '/generic/2010-04-15/create_event.json');
    const body = JSON.parse(req!.body);
    assert.equal(body.service_key, 'svc-key');
    assert.equal(body.event_type, 'trigger');
    assert.equal(body.incident_key, 'alert-1');
    assert.equal(body.description, 'Severity 2: dep: web(uuid-1) [id=a-1, index=0, cid=vm-1] a-1 has timed out');
    assert.equal(body.details.kind, 'alert');
  } finally {
    await closeServer(peer.server);
  }
});

test('data_dog: heartbeat metrics as series, alerts as events, keys in headers', async () => {
  const peer = await httpPeer();
  try {
    const p = await plugin('data_dog', { api_key: 'api', application_key: 'app', endpoint: peer.base, pagerduty_service_name: 'pd', custom_tags: { env: 'test' }, flush_interval: 0.1 });
    await p.process(heartbeat());
    await p.process(alert());
    await p.process(alert({ id: 'w', severity: 4 }));
    const series = await waitFor('series', () => peer.requests.find((r) => r.url === '/api/v1/series'));
    assert.equal(series.headers['dd-api-key'], 'api');
    assert.equal(series.headers['dd-application-key'], 'app');
    const points = JSON.parse(series.body).series as { metric: string; points: [number, number][]; tags: string[] }[];
    const cpu = points.find((s) => s.metric === 'bosh.healthmonitor.system.cpu.user')!;
    assert.deepEqual(cpu.points, [[now, 1.5]]);
    for (const tag of ['job:web', 'index:0', 'id:uuid-1', 'deployment:dep', 'agent:a-1', 'team:t1', 'env:test']) assert.ok(cpu.tags.includes(tag), tag);
    const events = peer.requests.filter((r) => r.url === '/api/v1/events').map((r) => JSON.parse(r.body));
    assert.equal(events[0].priority, 'normal');
    assert.equal(events[0].alert_type, 'error');
    assert.match(events[0].text, /@pagerduty-pd$/);
    assert.equal(events[1].priority, 'low');
    assert.equal(events[1].alert_type, 'warning');
    await p.stop?.();
  } finally {
    await closeServer(peer.server);
  }
});

test('graphite: heartbeat metrics as plaintext lines over TCP', async () => {
  let received = '';
  const peer = await tcpPeer((_s, chunk) => (received += chunk.toString()));
  const p = await plugin('graphite', { host: '127.0.0.1', port: peer.port, prefix: 'bosh' });
  try {
    p.process(heartbeat());
    await waitFor('lines', () => received.includes('system_healthy'));
    assert.match(received, new RegExp(`^bosh\\.dep\\.web\\.uuid-1\\.a-1\\.system_cpu_user 1\\.5 ${now}$`, 'm'));
    assert.match(received, new RegExp(`^bosh\\.dep\\.web\\.uuid-1\\.a-1\\.system_healthy 1 ${now}$`, 'm'));
  } finally {
    await p.stop?.();
    await closeServer(peer.server);
  }
});

// Reads protobuf fields (just what the riemann test needs).
function decodeFields(buf: Buffer): [number, number, Buffer | number][] {
  const fields: [number, number, Buffer | number][] = [];
  let i = 0;
  const varint = () => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = buf[i++]!;
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) return result;
    }
  };
  while (i < buf.length) {
    const key = varint();
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) fields.push([field, wire, varint()]);
    else if (wire === 1) (fields.push([field, wire, buf.readDoubleLE(i)]), (i += 8));
    else if (wire === 5) (fields.push([field, wire, buf.readFloatLE(i)]), (i += 4));
    else {
      const len = varint();
      fields.push([field, wire, buf.subarray(i, i + len)]);
      i += len;
    }
  }
  return fields;
}

function decodeRiemannEvent(buf: Buffer) {
  const event: { service?: string; state?: string; metric?: number; time?: number; attributes: Record<string, string> } = { attributes: {} };
  for (const [field, , value] of decodeFields(buf)) {
    if (field === 1) event.time = value as number;
    if (field === 2) event.state = (value as Buffer).toString();
    if (field === 3) event.service = (value as Buffer).toString();
    if (field === 14) event.metric = value as number;
    if (field === 9) {
      const attr = decodeFields(value as Buffer);
      event.attributes[(attr[0]![2] as Buffer).toString()] = (attr[1]![2] as Buffer).toString();
    }
  }
  return event;
}

test('riemann: protobuf events over TCP, one per heartbeat metric, alert state = severity name', async () => {
  let buffered = Buffer.alloc(0);
  const events: ReturnType<typeof decodeRiemannEvent>[] = [];
  const peer = await tcpPeer((socket, chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4 && buffered.length >= 4 + buffered.readUInt32BE(0)) {
      const msg = buffered.subarray(4, 4 + buffered.readUInt32BE(0));
      buffered = buffered.subarray(4 + msg.length);
      for (const [field, , value] of decodeFields(msg)) if (field === 6) events.push(decodeRiemannEvent(value as Buffer));
      socket.write(Buffer.from([0, 0, 0, 2, 0x10, 0x01])); // Msg { ok: true }
    }
  });
  const p = await plugin('riemann', { host: '127.0.0.1', port: peer.port });
  try {
    p.process(heartbeat());
    p.process(alert());
    await waitFor('riemann events', () => events.some((e) => e.state !== undefined));
    const cpu = events.find((e) => e.attributes.name === 'system.cpu.user')!;
    assert.equal(cpu.service, 'bosh.hm');
    assert.equal(cpu.metric, 1.5);
    assert.equal(cpu.attributes.deployment, 'dep');
    assert.equal(cpu.attributes.agent_id, 'a-1');
    assert.equal(cpu.time, now);
    const a = events.find((e) => e.state !== undefined)!;
    assert.equal(a.state, 'critical');
    assert.equal(a.attributes.title, 'a-1 has timed out');
  } finally {
    await p.stop?.();
    await closeServer(peer.server);
  }
});

test('consul_event_forwarder: alerts fired as events, heartbeats as TTL checks', async () => {
  const peer = await httpPeer();
  try {
    const p = await plugin('consul_event_forwarder', { host: '127.0.0.1', port: Number(new URL(peer.base).port), namespace: 'ns_', params: 'token=t', ttl: '120s', ttl_note: 'from hm', events: true, heartbeats_as_alerts: true });
    await p.process(alert());
    await p.process(heartbeat());
    await p.process(heartbeat('failing'));
    const urls = peer.requests.map((r) => `${r.method} ${r.url}`);
    assert.equal(urls[0], 'PUT /v1/event/fire/ns_a_1_has_timed_out?token=t');
    assert.equal(JSON.parse(peer.requests[0]!.body).id, 'alert-1');
    assert.equal(urls.filter((u) => u === 'PUT /v1/agent/check/register?token=t').length, 1, 'the check is registered once');
    const register = JSON.parse(peer.requests.find((r) => r.url.startsWith('/v1/agent/check/register'))!.body);
    assert.deepEqual(register, { Name: 'ns_web_uuid-1', Notes: 'from hm', TTL: '120s' });
    assert.ok(urls.some((u) => u.startsWith('PUT /v1/agent/check/pass/ns_web_uuid-1?token=t&note=')));
    assert.ok(urls.some((u) => u.startsWith('PUT /v1/agent/check/fail/ns_web_uuid-1?token=t&note=')));
    const fired = peer.requests.filter((r) => r.url.startsWith('/v1/event/fire/ns_heartbeat'));
    assert.equal(fired.length, 2);
    for (const f of fired) assert.ok(Buffer.byteLength(f.body) <= 512);
  } finally {
    await closeServer(peer.server);
  }
});
