// NATS authorization against the real nats-server: every client is the user its certificate names,
// so a rogue client holding agent A's certificate can neither listen to agent B's requests, nor
// send heartbeats for B, nor answer the director in B's name; A's own traffic keeps working.
// The director's include file follows the VM list and nats-server reloads it (SIGHUP).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection, type Subscription } from 'nats';
import { createLogger } from '../../src/common/logging.js';
import { openDatabase } from '../../src/director/db/index.js';
import { issueAgentCertificate } from '../../src/director/deploy/agent-cert.js';
import { agentUser, authorizationConfig, certificateSubject, directorUser, monitorUser } from '../../src/director/nats-auth/authorization.js';
import { NatsAuthorizationSync } from '../../src/director/nats-auth/sync.js';
import { createVm } from '../../src/director/deploy/vm-creator.js';
import type { Director } from '../../src/director/context.js';
import { ensureCertificates } from '../../src/environment/certs.js';
import { natsServerConfig, writeNatsServerConfig } from '../../src/environment/nats.js';
import { environmentPaths, NATS_AUTHORIZATION_FILE } from '../../src/environment/paths.js';
import { startDetached, stopProcess } from '../../src/environment/processes.js';

const home = mkdtempSync(join(tmpdir(), 'capstan-natsauthz-'));
const paths = environmentPaths(home);
const A = randomUUID();
const B = randomUUID();
let port = 0;
const open: NatsConnection[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function agentTls(agentId: string) {
  const ca = { certificatePem: readFileSync(paths.certs.ca, 'utf8'), privateKeyPem: readFileSync(paths.certs.caKey, 'utf8') };
  const cert = issueAgentCertificate(ca, agentId, ca.certificatePem);
  return { ca: cert.ca, cert: cert.certificate, key: cert.private_key };
}
const directorTls = () => ({ caFile: paths.certs.ca, certFile: paths.certs.directorClient, keyFile: paths.certs.directorClientKey });
const monitorTls = () => ({ caFile: paths.certs.ca, certFile: paths.certs.monitorClient, keyFile: paths.certs.monitorClientKey });

/** A connection whose server-reported errors (permission violations) are collected. */
async function client(tls: object, name: string): Promise<{ nc: NatsConnection; errors: string[] }> {
  for (let i = 0; ; i++) {
    try {
      const nc = await connect({ servers: `tls://127.0.0.1:${port}`, tls, name, reconnect: false, timeout: 5000 });
      open.push(nc);
      const errors: string[] = [];
      void (async () => {
        for await (const s of nc.status()) {
          // permission errors carry the refused operation and subject
          const ctx = (s as { permissionContext?: { operation: string; subject: string } }).permissionContext;
          if (s.type === 'error') errors.push(ctx ? `Permissions Violation for ${ctx.operation === 'publish' ? 'Publish' : 'Subscription'} to "${ctx.subject}"` : String(s.data));
        }
      })();
      return { nc, errors };
    } catch (err) {
      if (i > 50) throw err;
      await sleep(100);
    }
  }
}

async function received(sub: Subscription, waitMs = 500): Promise<string[]> {
  const out: string[] = [];
  const timer = setTimeout(() => sub.unsubscribe(), waitMs);
  try {
    for await (const m of sub) out.push(m.subject);
  } catch {
    // a refused subscription ends with the server's error
  }
  clearTimeout(timer);
  return out;
}

/** Waits for a server error containing `text` (permission violations arrive asynchronously). */
async function serverError(errors: string[], text: string): Promise<string> {
  for (let i = 0; i < 50; i++) {
    const found = errors.find((e) => e.includes(text));
    if (found) return found;
    await sleep(100);
  }
  assert.fail(`no server error containing '${text}' (got: ${errors.join(' | ') || 'none'})`);
}

before(async () => {
  ensureCertificates(paths, { natsIp: '127.0.0.1', directorIps: [] });
  port = await freePort();
  const subject = (p: string) => certificateSubject(readFileSync(p, 'utf8'));
  const users = [directorUser(subject(paths.certs.directorClient)), monitorUser(subject(paths.certs.monitorClient)), agentUser(A), agentUser(B)];
  writeNatsServerConfig(
    paths.natsConfig,
    { host: '127.0.0.1', port, certificatePath: paths.certs.nats, privateKeyPath: paths.certs.natsKey, caPath: paths.certs.ca, authorizationInclude: NATS_AUTHORIZATION_FILE },
    authorizationConfig(users),
  );
  startDetached({ command: 'nats-server', args: ['-c', paths.natsConfig], pidFile: paths.natsPid, logFile: paths.natsLog });
});

after(async () => {
  await Promise.all(open.map((nc) => nc.close().catch(() => {})));
  await stopProcess(paths.natsPid, 'nats-server');
  rmSync(home, { recursive: true, force: true });
});

test('config: certificates map to users; the include names only a file next to nats.conf', () => {
  const text = natsServerConfig({ host: '127.0.0.1', port: 4222, certificatePath: '/c', privateKeyPath: '/k', caPath: '/ca', authorizationInclude: 'authorization.conf' });
  assert.match(text, /^ {2}verify_and_map: true$/m);
  assert.match(text, /^include "authorization.conf"$/m);
  assert.throws(() => natsServerConfig({ host: 'h', port: 1, certificatePath: '/c', privateKeyPath: '/k', caPath: '/ca', authorizationInclude: '/etc/x.conf' }), /file name next to nats.conf/);
  assert.deepEqual(agentUser('a-1').permissions, {
    subscribe: ['agent.a-1'],
    publish: ['hm.agent.heartbeat.a-1', 'hm.agent.alert.a-1', 'hm.agent.shutdown.a-1', 'director.*.a-1.*'],
  });
  for (const bad of ['*', '>', 'a.b', 'a b', '']) assert.throws(() => agentUser(bad), /Invalid agent id/);
});

test("agent A's legitimate traffic works: requests in, heartbeats and replies out", async () => {
  const director = await client(directorTls(), 'director');
  const monitor = await client(monitorTls(), 'monitor');
  const agent = await client(agentTls(A), 'agent-a');
  const processUuid = randomUUID();
  const replies = director.nc.subscribe(`director.${processUuid}.>`, { max: 1 });
  const heartbeats = monitor.nc.subscribe(`hm.agent.heartbeat.${A}`, { max: 1 });
  const requests = agent.nc.subscribe(`agent.${A}`, { max: 1 });
  await Promise.all([director.nc.flush(), monitor.nc.flush(), agent.nc.flush()]);

  director.nc.publish(`agent.${A}`, JSON.stringify({ method: 'ping', arguments: [], reply_to: `director.${processUuid}.${A}.r1` }));
  assert.deepEqual(await received(requests, 3000), [`agent.${A}`]);
  agent.nc.publish(`director.${processUuid}.${A}.r1`, JSON.stringify({ value: 'pong' }));
  agent.nc.publish(`hm.agent.heartbeat.${A}`, '{}');
  assert.deepEqual(await received(replies, 3000), [`director.${processUuid}.${A}.r1`]);
  assert.deepEqual(await received(heartbeats, 3000), [`hm.agent.heartbeat.${A}`]);
  assert.deepEqual(agent.errors, []);
});

test("a rogue client with agent A's certificate cannot subscribe to agent B's requests", async () => {
  const director = await client(directorTls(), 'director');
  const rogue = await client(agentTls(A), 'rogue');
  const stolen = rogue.nc.subscribe(`agent.${B}`);
  const wildcard = rogue.nc.subscribe('agent.*');
  await rogue.nc.flush();
  director.nc.publish(`agent.${B}`, JSON.stringify({ method: 'get_state', arguments: [], reply_to: 'director.x.y.z' }));
  await director.nc.flush();
  assert.match(await serverError(rogue.errors, `Subscription to "agent.${B}"`), /Permissions Violation/);
  assert.match(await serverError(rogue.errors, 'Subscription to "agent.*"'), /Permissions Violation/);
  assert.deepEqual(await received(stolen), []);
  assert.deepEqual(await received(wildcard), []);
});

test("a rogue client with agent A's certificate cannot publish B's heartbeats, alerts or shutdown", async () => {
  const monitor = await client(monitorTls(), 'monitor');
  const rogue = await client(agentTls(A), 'rogue');
  const seen = monitor.nc.subscribe('hm.agent.>');
  await monitor.nc.flush();
  for (const topic of ['heartbeat', 'alert', 'shutdown']) rogue.nc.publish(`hm.agent.${topic}.${B}`, '{}');
  await rogue.nc.flush();
  for (const topic of ['heartbeat', 'alert', 'shutdown']) {
    assert.match(await serverError(rogue.errors, `Publish to "hm.agent.${topic}.${B}"`), /Permissions Violation/);
  }
  assert.deepEqual(await received(seen), [], 'the monitor heard nothing');
});

test("a rogue client with agent A's certificate cannot answer the director for B", async () => {
  const director = await client(directorTls(), 'director');
  const rogue = await client(agentTls(A), 'rogue');
  const processUuid = randomUUID();
  const replies = director.nc.subscribe(`director.${processUuid}.>`);
  await director.nc.flush();
  rogue.nc.publish(`director.${processUuid}.${B}.${randomUUID()}`, JSON.stringify({ value: 'forged' }));
  rogue.nc.publish(`director.${processUuid}.${A}.x.${B}`, JSON.stringify({ value: 'forged' })); // A's prefix, deeper subject
  await rogue.nc.flush();
  assert.match(await serverError(rogue.errors, `Publish to "director.${processUuid}.${B}.`), /Permissions Violation/);
  assert.match(await serverError(rogue.errors, `Publish to "director.${processUuid}.${A}.x.${B}"`), /Permissions Violation/);
  assert.deepEqual(await received(replies), [], 'the director got no forged reply');
});

test('the monitor only listens and an agent cannot impersonate the director', async () => {
  const monitor = await client(monitorTls(), 'monitor');
  monitor.nc.publish(`agent.${A}`, '{"method":"stop"}');
  assert.match(await serverError(monitor.errors, `Publish to "agent.${A}"`), /Permissions Violation/);
  const rogue = await client(agentTls(A), 'rogue');
  rogue.nc.publish(`agent.${B}`, '{"method":"stop"}');
  rogue.nc.subscribe('director.>');
  assert.match(await serverError(rogue.errors, `Publish to "agent.${B}"`), /Permissions Violation/);
  assert.match(await serverError(rogue.errors, 'Subscription to "director.>"'), /Permissions Violation/);
});

test('payloads over 1 MiB are refused (the server announces max_payload 1048576)', async () => {
  const agent = await client(agentTls(A), 'agent-a-big');
  assert.equal(agent.nc.info?.max_payload, 1048576);
  assert.throws(() => agent.nc.publish(`hm.agent.heartbeat.${A}`, new Uint8Array(1048577)), /MAX_PAYLOAD_EXCEEDED/);
});

test('an agent certificate whose id is not in the VM list is refused; the director adds it, reloads, and removes it', async () => {
  const C = randomUUID();
  await assert.rejects(connect({ servers: `tls://127.0.0.1:${port}`, tls: agentTls(C), reconnect: false, timeout: 5000 }), /Authorization Violation/i);

  const db = await openDatabase({ adapter: 'sqlite', database: join(home, 'db.sqlite') });
  try {
    const subject = (p: string) => certificateSubject(readFileSync(p, 'utf8'));
    const sync = new NatsAuthorizationSync(
      db,
      { include_path: paths.natsAuthorization, pid_file: paths.natsPid, monitor_subjects: [] },
      [directorUser(subject(paths.certs.directorClient)), monitorUser(subject(paths.certs.monitorClient))],
      createLogger('test', { write: () => {} }),
    );
    await sync.allowAgent(C); // what create_vm does before the CPI call
    assert.match(readFileSync(paths.natsAuthorization, 'utf8'), new RegExp(`CN=${C}\\.agent\\.bosh-internal`));
    const agent = await client(agentTls(C), 'agent-c'); // retried until the reload took effect
    const own = agent.nc.subscribe(`agent.${C}`, { max: 1 });
    await agent.nc.flush();
    assert.deepEqual(agent.errors, []);
    own.unsubscribe();

    sync.settleAgent(C); // not in the vms table: the next sync drops it (the VM was deleted)
    await sync.sync();
    assert.doesNotMatch(readFileSync(paths.natsAuthorization, 'utf8'), new RegExp(C));
    let refused = false;
    for (let i = 0; i < 50 && !refused; i++) {
      await sleep(100);
      refused = await connect({ servers: `tls://127.0.0.1:${port}`, tls: agentTls(C), reconnect: false, timeout: 5000 }).then(
        (nc) => nc.close().then(() => false),
        () => true,
      );
    }
    assert.ok(refused, 'a deleted VM’s agent can no longer connect');
  } finally {
    await db.destroy();
  }
});

test('create_vm grants the new agent its NATS user before the CPI boots the VM, and a failed create_vm takes it back', async () => {
  const db = await openDatabase({ adapter: 'sqlite', database: join(home, 'db-create-vm.sqlite') });
  try {
    const subject = (p: string) => certificateSubject(readFileSync(p, 'utf8'));
    const log = createLogger('test', { write: () => {} });
    const natsAuth = new NatsAuthorizationSync(
      db,
      { include_path: paths.natsAuthorization, pid_file: paths.natsPid, monitor_subjects: [] },
      [directorUser(subject(paths.certs.directorClient))],
      log,
    );
    let seenAtCreateVm = '';
    let agentId = '';
    const cpi = {
      createVm: async (id: string) => {
        agentId = id;
        seenAtCreateVm = readFileSync(paths.natsAuthorization, 'utf8');
        throw new Error('no capacity');
      },
    };
    const director = {
      config: { name: 'd', agent_ca: { certificate_path: paths.certs.ca, private_key_path: paths.certs.caKey }, nats: { ca_path: paths.certs.ca } },
      db, cpi, natsAuth, log,
    } as unknown as Director;
    const request = {
      deployment: 'dep', instanceId: 1, instanceGroup: 'web', instanceUuid: 'u', index: 0,
      stemcell: { name: 's', version: '1', operatingSystem: 'os', cid: 'sc', apiVersion: 2 },
      cloudProperties: {}, networks: {}, env: {}, job: null,
    };
    await assert.rejects(createVm(director, request), /no capacity/);
    assert.ok(agentId !== '' && seenAtCreateVm.includes(`CN=${agentId}.agent.bosh-internal`), 'the agent was allowed before create_vm ran');
    assert.ok(!readFileSync(paths.natsAuthorization, 'utf8').includes(agentId), 'and forgotten when create_vm failed');
  } finally {
    await db.destroy();
  }
});
