// The director's NATS agent client against a real nats-server with mutual TLS: request/reply via
// the reply_to field, async tasks polled with get_task, agent exceptions, timeouts, waitUntilReady.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { connect, type NatsConnection, type TlsOptions } from 'nats';
import { createAgentClientFactory, natsServerIdentity, AgentError, RpcTimeout, type AgentClientFactory } from '../../../src/director/agent-client.js';
import type { DirectorConfig } from '../../../src/director/config.js';
import { createLogger } from '../../../src/common/logging.js';

let dir: string;
let natsServer: ChildProcess;
let port: number;
let factory: AgentClientFactory;
const agents: NatsConnection[] = [];

function keyPair() {
  return generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
}

function certificate(cn: string, issuer: { cert: forge.pki.Certificate; key: string } | null, publicKey: string, signingKey: string, extra: object[]) {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  cert.serialNumber = '0' + Math.floor(Math.random() * 1e9).toString(16);
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 3600_000);
  cert.setSubject([{ name: 'commonName', value: cn }]);
  cert.setIssuer(issuer ? issuer.cert.subject.attributes : [{ name: 'commonName', value: cn }]);
  cert.setExtensions(extra);
  cert.sign(forge.pki.privateKeyFromPem(issuer ? issuer.key : signingKey), forge.md.sha256.create());
  return cert;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(p: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect(p, '127.0.0.1', () => { socket.end(); resolve(true); }).on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('nats-server did not start');
}

const issued: Record<string, { cert: string; key: string }> = {};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'capstan-agent-client-'));
  const caKeys = keyPair();
  const caCert = certificate('Test CA', null, caKeys.publicKey, caKeys.privateKey, [{ name: 'basicConstraints', cA: true }, { name: 'keyUsage', keyCertSign: true }]);
  const ca = { cert: caCert, key: caKeys.privateKey };
  const issue = (name: string, cn: string, extra: object[]) => {
    const keys = keyPair();
    issued[name] = { cert: forge.pki.certificateToPem(certificate(cn, ca, keys.publicKey, '', extra)), key: keys.privateKey };
  };
  issue('server', 'default.nats.bosh-internal', [{ name: 'extKeyUsage', serverAuth: true }, { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }]);
  issue('director', 'default.director.bosh-internal', [{ name: 'extKeyUsage', clientAuth: true }]);
  issue('agent', 'agent-1.agent.bosh-internal', [{ name: 'extKeyUsage', clientAuth: true }]);
  await writeFile(join(dir, 'ca.pem'), forge.pki.certificateToPem(caCert));
  for (const [name, { cert, key }] of Object.entries(issued)) {
    await writeFile(join(dir, `${name}.pem`), cert);
    await writeFile(join(dir, `${name}.key`), key);
  }
  port = await freePort();
  await writeFile(join(dir, 'nats.conf'), [
    `listen: "127.0.0.1:${port}"`,
    'tls {',
    `  cert_file: "${join(dir, 'server.pem')}"`,
    `  key_file: "${join(dir, 'server.key')}"`,
    `  ca_file: "${join(dir, 'ca.pem')}"`,
    '  verify: true',
    '}',
  ].join('\n'));
  natsServer = spawn('/usr/sbin/nats-server', ['-c', join(dir, 'nats.conf')], { stdio: 'ignore' });
  await waitForPort(port);
  const config = {
    uuid: 'director-uuid',
    nats: { url: `nats://127.0.0.1:${port}`, agent_url: '', ca_path: join(dir, 'ca.pem'), client_certificate_path: join(dir, 'director.pem'), client_private_key_path: join(dir, 'director.key') },
  } as unknown as DirectorConfig;
  factory = await createAgentClientFactory(config, createLogger('test', undefined, 'silent'));
});

after(async () => {
  await factory?.close();
  for (const nc of agents) await nc.close();
  natsServer?.kill();
  await rm(dir, { recursive: true, force: true });
});

/** A minimal agent: answers requests on agent.<id> by publishing to the body's reply_to. */
async function fakeAgent(agentId: string, handle: (method: string, args: unknown[]) => unknown) {
  const tls = { caFile: join(dir, 'ca.pem'), certFile: join(dir, 'agent.pem'), keyFile: join(dir, 'agent.key'), checkServerIdentity: natsServerIdentity(`nats://127.0.0.1:${port}`) };
  const nc = await connect({ servers: `nats://127.0.0.1:${port}`, tls: tls as TlsOptions });
  agents.push(nc);
  const requests: Array<{ method: string; protocol: number; reply_to: string }> = [];
  nc.subscribe(`agent.${agentId}`, {
    callback: (_err, msg) => {
      const request = JSON.parse(Buffer.from(msg.data).toString());
      requests.push(request);
      let response: unknown;
      try {
        const value = handle(request.method, request.arguments);
        if (value === undefined) return; // no answer
        response = { value };
      } catch (err) {
        response = { exception: { message: (err as Error).message } };
      }
      nc.publish(request.reply_to, Buffer.from(JSON.stringify(response)));
    },
  });
  await nc.flush();
  return requests;
}

test('sync request: protocol 3 envelope to agent.<id>, reply via reply_to', async () => {
  const requests = await fakeAgent('agent-sync', (method) => (method === 'ping' ? 'pong' : undefined));
  assert.equal(await factory.forAgent('agent-sync').call('ping'), 'pong');
  assert.equal(requests[0].protocol, 3);
  assert.match(requests[0].reply_to, /^director\.[0-9a-f-]+\.agent-sync\.[0-9a-f-]+$/);
});

test('async request: polls get_task until the task is no longer running', async () => {
  let polls = 0;
  const requests = await fakeAgent('agent-async', (method, args) => {
    if (method === 'apply') return { agent_task_id: 'task-1', state: 'running' };
    if (method === 'get_task') {
      assert.deepEqual(args, ['task-1']);
      return ++polls < 2 ? { agent_task_id: 'task-1', state: 'running' } : 'applied';
    }
    return undefined;
  });
  assert.equal(await factory.forAgent('agent-async').call('apply', [{ deployment: 'd' }]), 'applied');
  assert.deepEqual(requests.map((r) => r.method), ['apply', 'get_task', 'get_task']);
});

test("an agent exception becomes an Error with the agent's message", async () => {
  await fakeAgent('agent-error', () => {
    throw new Error('Action Failed get_task: Task 1 result: boom');
  });
  await assert.rejects(factory.forAgent('agent-error').call('get_state'), (err: Error) => {
    assert.ok(err instanceof AgentError);
    assert.equal(err.message, 'Action Failed get_task: Task 1 result: boom');
    return true;
  });
});

test('no answer within the timeout is an RpcTimeout naming method and agent', async () => {
  await assert.rejects(factory.forAgent('nobody').call('start', [], { timeoutMs: 200 }), (err: Error) => {
    assert.ok(err instanceof RpcTimeout);
    assert.equal(err.message, "Timed out sending 'start' to instance: 'nobody'");
    return true;
  });
});

test('waitUntilReady pings until the agent answers, and gives up after the timeout', async () => {
  const waiting = factory.waitUntilReady('agent-late', 20_000);
  await new Promise((r) => setTimeout(r, 1500));
  await fakeAgent('agent-late', (method) => (method === 'ping' ? 'pong' : undefined));
  await waiting;
  await assert.rejects(factory.waitUntilReady('agent-never', 1500), /Timed out pinging to agent-never after 2 seconds/);
});

test('the NATS server certificate must name the URL host or be a *.nats.bosh-internal certificate', () => {
  const check = natsServerIdentity('nats://127.0.0.1:4222');
  const cert = (cn: string, san: string) => ({ subject: { CN: cn }, subjectaltname: san }) as unknown as import('node:tls').PeerCertificate;
  assert.equal(check('localhost', cert('whatever', 'IP Address:127.0.0.1')), undefined);
  assert.equal(check('localhost', cert('default.nats.bosh-internal', 'IP Address:10.245.0.1')), undefined);
  assert.ok(check('localhost', cert('evil.example.com', 'IP Address:10.245.0.1')) instanceof Error);
});
