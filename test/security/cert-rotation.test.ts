// NATS certificate rotation without recreating the VM: the director issues the running agent a new
// client certificate from a new CA and pushes it with update_settings; the agent reconnects with
// it (seen by nats-server itself, via its connz monitoring endpoint), answers ping and the
// director's get_task, and still uses it after an agent restart. Real nats-server with mutual
// TLS (trusting the old and the new CA), real agent process, the director's real NATS RPC client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { createLogger } from '../../src/common/logging.js';
import { NatsAgentClientFactory } from '../../src/director/agent-client.js';
import type { Director } from '../../src/director/context.js';
import { openDatabase } from '../../src/director/db/index.js';
import type { Database } from '../../src/director/db/schema.js';
import { rotateAgentCertificates } from '../../src/director/nats-auth/rotate-certs.js';
import { ensureCertificates } from '../../src/environment/certs.js';
import { environmentPaths } from '../../src/environment/paths.js';
import { AgentEnv, waitFor } from '../agent/harness.js';

/** The agent harness with a nats-server that trusts two CAs and serves its monitoring endpoint. */
class RotationEnv extends AgentEnv {
  constructor(extraCa: string) {
    super({ extraClientCa: extraCa, natsMonitoring: true });
  }

  /** SHA-256 of the client certificate nats-server sees on the agent's connection(s). */
  async agentCertsSeenByServer(): Promise<string[]> {
    const res = await fetch(`http://127.0.0.1:${this.monitorPort}/connz?auth=true&limit=1000`);
    const connz = (await res.json()) as { connections?: Array<{ name?: string; tls_peer_certs?: Array<{ cert_sha256: string }> }> };
    return (connz.connections ?? []).filter((c) => c.name === `agent-${this.agentId}`).map((c) => c.tls_peer_certs?.[0]?.cert_sha256 ?? '');
  }
}

const sha256 = (pem: string) => new X509Certificate(pem).fingerprint256.replaceAll(':', '').toLowerCase();

let env: RotationEnv;
let db: Kysely<Database>;
let director: Director;
let agents: NatsAgentClientFactory;
let home = '';

before(async () => {
  // the new CA (and its key, which the director signs agent certificates with)
  home = await mkdtemp(join(tmpdir(), 'capstan-rotation-ca-'));
  const paths = environmentPaths(home);
  ensureCertificates(paths, { natsIp: '127.0.0.1', directorIps: [] });
  env = new RotationEnv(await readFile(paths.certs.ca, 'utf8'));
  await env.setup();
  await writeFile(join(env.dir, 'nats-ca.pem'), env.pki.ca); // what agents verify the NATS server with
  db = await openDatabase({ adapter: 'sqlite', database: join(env.dir, 'director.sqlite') });
  const deployment = await db.insertInto('deployments').values({ name: 'rot', manifest_text: null, cloud_config_id: null }).returning('id').executeTakeFirstOrThrow();
  const instance = await db
    .insertInto('instances')
    .values({ deployment_id: deployment.id, job: 'web', index: 0, uuid: 'a0000000-0000-4000-8000-000000000001', state: 'started', availability_zone: null, compilation: 0, bootstrap: 1, spec_json: null, update_completed: 1, ignore: 0 })
    .returning('id')
    .executeTakeFirstOrThrow();
  await db
    .insertInto('vms')
    .values({ instance_id: instance.id, agent_id: env.agentId, cid: 'vm-rot-1', active: 1, cpi: '', created_at: new Date().toISOString(), network_spec_json: null, env_json: null, cloud_properties_json: null, stemcell_name: null, stemcell_version: null, stemcell_api_version: null })
    .execute();
  const log = createLogger('rotation-test', undefined, 'silent');
  agents = new NatsAgentClientFactory(env.client, log);
  director = {
    config: { agent_ca: { certificate_path: paths.certs.ca, private_key_path: paths.certs.caKey }, nats: { ca_path: join(env.dir, 'nats-ca.pem') } },
    db, agents, log,
  } as unknown as Director;
});

after(async () => {
  await agents?.close().catch(() => undefined);
  await db?.destroy();
  await env?.teardown();
  if (home) await rm(home, { recursive: true, force: true });
});

test('rotating the agent certificate: new CA, no restart needed, and kept after a restart', async () => {
  await env.startAgent();
  const oldCert = sha256(env.pki.agent.cert);
  assert.deepEqual(await env.agentCertsSeenByServer(), [oldCert], 'the agent starts on the certificate create_vm gave it');

  const rotated = await rotateAgentCertificates(director, { deployment: 'rot' });
  assert.deepEqual(rotated, [{ agentId: env.agentId, cid: 'vm-rot-1' }]);

  const saved = JSON.parse(await readFile(join(env.base, 'bosh', 'update_settings.json'), 'utf8'));
  const newPem: string = saved.mbus.cert.certificate;
  const newCert = sha256(newPem);
  assert.notEqual(newCert, oldCert);
  const newCa = await readFile(director.config.agent_ca.certificate_path, 'utf8');
  assert.ok(new X509Certificate(newPem).verify(new X509Certificate(newCa).publicKey), 'the new certificate is signed by the new CA');
  assert.equal(new X509Certificate(newPem).subject.split('\n').find((l) => l.startsWith('CN=')), `CN=${env.agentId}.agent.bosh-internal`);

  // same process, new connection: nats-server sees the new certificate, and the agent answers on it
  assert.equal(env.agent!.exitCode, null, 'the agent was not restarted');
  await waitFor('the server to see only the new certificate', async () => {
    const seen = await env.agentCertsSeenByServer();
    return seen.length === 1 && seen[0] === newCert ? true : undefined;
  }, 15_000);
  assert.equal(await agents.forAgent(env.agentId).call('ping'), 'pong');

  // after a restart the agent connects with the saved certificate, not the one in its settings
  assert.equal(await env.stopAgent(), 0);
  await env.startAgent();
  assert.deepEqual(await env.agentCertsSeenByServer(), [newCert]);
  assert.equal(await agents.forAgent(env.agentId).call('ping'), 'pong');
});

test('a certificate the NATS server refuses fails the update and leaves the agent on its working one', async () => {
  const before = await env.agentCertsSeenByServer();
  // signed by a CA the server does not trust
  const stranger = environmentPaths(join(env.dir, 'stranger'));
  ensureCertificates(stranger, { natsIp: '127.0.0.1', directorIps: [] });
  const untrusted = { ...director, config: { ...director.config, agent_ca: { certificate_path: stranger.certs.ca, private_key_path: stranger.certs.caKey } } } as Director;
  await assert.rejects(rotateAgentCertificates(untrusted), /Connecting to NATS with the new mbus settings/);
  assert.deepEqual(await env.agentCertsSeenByServer(), before);
  assert.equal(await agents.forAgent(env.agentId).call('ping'), 'pong');
  const saved = JSON.parse(await readFile(join(env.base, 'bosh', 'update_settings.json'), 'utf8'));
  assert.equal(sha256(saved.mbus.cert.certificate), before[0], 'the refused certificate was not saved');
});
