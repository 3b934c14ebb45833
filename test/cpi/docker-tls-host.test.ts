// Several Docker hosts, one per AZ (cpi-config docker CPIs with `host` and `tls`): a second Docker
// host stands in as a TLS-terminating proxy on 127.0.0.1 that requires a client certificate signed
// by a test CA and pipes to the local engine's socket. Two cpi-config CPIs, one through the unix
// socket and one through `tcp://127.0.0.1:<port>` with TLS, each create a running VM; the TLS one's
// calls went through the proxy with the client certificate, and a client without one is refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import Docker from 'dockerode';
import type { Kysely } from 'kysely';
import { stringify } from 'yaml';
import { DockerCpi } from '../../src/cpi/docker/docker-cpi.js';
import { DirectorConfigSchema } from '../../src/director/config.js';
import { CpiRegistry, configuredCpiBuilder } from '../../src/director/cpis.js';
import { openDatabase } from '../../src/director/db/index.js';
import type { Database } from '../../src/director/db/schema.js';
import { dockerAvailable, removeDockerLeftovers, testNetwork } from './support/implementations.js';
import { startTlsDockerHost, type TlsDockerHost } from './support/tls-docker-host.js';
import { buildTinyRootfs } from './tiny-rootfs.js';

const skip = dockerAvailable() ? false : 'no Docker engine answers (`docker info` failed)';
const NET = testNetwork('tls-host', 103);
const docker = new Docker();

let dir: string;
let host: TlsDockerHost;
let db: Kysely<Database>;
let registry: CpiRegistry;
/** Stemcells to delete at the end, whatever happens. */
const stemcellCleanups: Array<() => Promise<void>> = [];

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'capstan-docker-tls-'));
  host = await startTlsDockerHost();
  writeFileSync(join(dir, 'agent-ca.pem'), host.ca.certificate);
  const config = DirectorConfigSchema.parse({
    uuid: 'director-uuid', base_dir: dir, tls: { certificate_path: 'c', private_key_path: 'k' }, users: [{ name: 'admin', password: 'p' }],
    db: { adapter: 'sqlite', database: join(dir, 'db.sqlite') },
    blobstore: { path: join(dir, 'blobs'), server: { user: 'agent', password: 'pw' }, agent_endpoint: `https://${NET.gateway}:25250` },
    nats: { url: 'nats://127.0.0.1:4222', agent_url: `nats://${NET.gateway}:4222`, ca_path: 'ca', client_certificate_path: 'c', client_private_key_path: 'k' },
    agent_ca: { certificate_path: join(dir, 'agent-ca.pem'), private_key_path: 'k' },
    cpi: { type: 'dummy', base_dir: join(dir, 'dummy') },
  });
  db = await openDatabase(config.db);
  const network = { network: NET.name, subnet: NET.subnet, gateway: NET.gateway };
  const cpiConfig = stringify({
    cpis: [
      { name: 'docker-z1', type: 'docker', properties: { host: 'unix:///var/run/docker.sock', ...network } },
      { name: 'docker-z2', type: 'docker', properties: { host: host.url, tls: host.clientTls, ...network } },
    ],
  });
  await db.insertInto('configs').values({ type: 'cpi', name: 'default', content: cpiConfig, created_at: new Date().toISOString(), deleted: 0 }).execute();
  registry = new CpiRegistry(db, new DockerCpi({ agent: { mbus: 'nats://x:4222', blobstore: { provider: 'dav', options: {} } } }), 'docker', configuredCpiBuilder(config));
});

after(async () => {
  if (skip) return;
  await removeDockerLeftovers(NET.name);
  for (const cleanup of stemcellCleanups) await cleanup().catch(() => undefined);
  await host.close();
  await db.destroy();
  rmSync(dir, { recursive: true, force: true });
});

test('two Docker hosts from the cpi-config, one over the unix socket and one over TLS with a client certificate, each run a VM', { skip }, async () => {
  const z1 = await registry.get('docker-z1');
  const z2 = await registry.get('docker-z2');
  const image = buildTinyRootfs(dir);
  const stemcells = { z1: await z1.createStemcell(image, {}), z2: await z2.createStemcell(image, {}) };
  stemcellCleanups.push(() => z1.deleteStemcell(stemcells.z1), () => z2.deleteStemcell(stemcells.z2));
  const vm = (n: number) => ({ default: { type: 'manual' as const, ip: `${NET.prefix}.${n}`, netmask: '255.255.255.0', gateway: NET.gateway, default: ['dns', 'gateway'] } });
  const start = host.proxiedBytes();
  const cids: Record<string, string> = { z1: await z1.createVm('agent-z1', stemcells.z1, {}, vm(31), [], {}) };
  assert.equal(host.proxiedBytes(), start, 'the z1 CPI does not use the TLS host');
  cids.z2 = await z2.createVm('agent-z2', stemcells.z2, {}, vm(32), [], {});
  try {
    assert.ok(host.proxiedBytes() > start, 'the z2 CPI went through the TLS host');
    for (const [az, cid] of Object.entries(cids)) {
      const info = await docker.getContainer(cid).inspect();
      assert.equal(info.State.Running, true, `${az} VM running`);
      console.log(`${az}: container ${cid.slice(0, 12)} running at ${info.NetworkSettings.Networks[NET.name].IPAddress}`);
    }
    assert.ok(host.clients.length > 0 && host.clients.every((cn) => cn === 'capstan-director'));
    console.log(`TLS host served ${host.clients.length} connection(s), client certificate CN ${host.clients[0]}`);
    assert.equal(await z2.hasVm(cids.z2), true);
    await z2.setVmMetadata!(cids.z2, { deployment: 'app', name: 'idle/0' });
  } finally {
    await z1.deleteVm(cids.z1);
    await z2.deleteVm(cids.z2);
  }
  assert.equal(await z2.hasVm(cids.z2), false);
});

test('the TLS Docker host refuses a client without a certificate', { skip }, async () => {
  const error = await new Promise<Error | null>((done) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: host.port, ca: host.ca.certificate }, () => {
      socket.write('GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n');
    });
    socket.once('data', () => done(null));
    socket.once('error', (err) => done(err));
    socket.once('close', () => done(new Error('closed without an answer')));
  });
  assert.ok(error, 'no answer without a client certificate');
});
