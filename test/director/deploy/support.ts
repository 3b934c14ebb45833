// A Director for deploy tests: real SQLite (in memory), a directory blobstore, a generated CA,
// and the in-memory agents/CPI from fakes.ts.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtemp, mkdir, writeFile, copyFile, rm, access } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { openDatabase } from '../../../src/director/db/index.js';
import { testDatabase, usePostgres } from '../../support/test-db.js';
import { BlobNotFound, type Blobstore } from '../../../src/blobstore/blobstore.js';
import type { Director } from '../../../src/director/context.js';
import type { DirectorConfig } from '../../../src/director/config.js';
import { createLogger } from '../../../src/common/logging.js';
import { FakeAgents, FakeCpi } from './fakes.js';

export function makeCa(): { certificatePem: string; privateKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 3600_000);
  const subject = [{ name: 'commonName', value: 'Test CA' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([{ name: 'basicConstraints', cA: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true }]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());
  return { certificatePem: forge.pki.certificateToPem(cert), privateKeyPem: privateKey };
}

export class DirBlobstore implements Blobstore {
  constructor(private readonly dir: string) {}
  async put(filePath: string, id = randomUUID()): Promise<string> {
    await copyFile(filePath, join(this.dir, id));
    return id;
  }
  async get(id: string, destPath: string): Promise<void> {
    if (!(await this.exists(id))) throw new BlobNotFound(id);
    await copyFile(join(this.dir, id), destPath);
  }
  async getStream(id: string) {
    return createReadStream(join(this.dir, id));
  }
  async delete(id: string): Promise<void> {
    await rm(join(this.dir, id), { force: true });
  }
  async exists(id: string): Promise<boolean> {
    return access(join(this.dir, id)).then(() => true, () => false);
  }
}

export interface TestDirector extends Director {
  agents: FakeAgents;
  cpi: FakeCpi;
  root: string;
  ca: { certificatePem: string; privateKeyPem: string };
  cleanup(): Promise<void>;
}

export async function testDirector(agents = new FakeAgents(), readyOnCreate = true): Promise<TestDirector> {
  const root = await mkdtemp(join(tmpdir(), 'capstan-deploy-test-'));
  await mkdir(join(root, 'blobs'));
  const ca = makeCa();
  await writeFile(join(root, 'ca.pem'), ca.certificatePem);
  await writeFile(join(root, 'ca.key'), ca.privateKeyPem);
  const config = {
    name: 'capstan', uuid: randomUUID(), base_dir: root, agent_wait_timeout_seconds: 1,
    agent_ca: { certificate_path: join(root, 'ca.pem'), private_key_path: join(root, 'ca.key') },
    nats: { url: 'nats://127.0.0.1:1', agent_url: 'nats://127.0.0.1:1', ca_path: join(root, 'ca.pem'), client_certificate_path: '', client_private_key_path: '' },
  } as unknown as DirectorConfig;
  const db = await openDatabase(usePostgres() ? testDatabase('') : { adapter: 'sqlite', database: ':memory:' });
  const cpi = new FakeCpi((vm) => {
    if (readyOnCreate) agents.ready.add(vm.agentId);
  });
  return {
    config, db, blobstore: new DirBlobstore(join(root, 'blobs')), cpi, cpiName: '', agents, log: createLogger('test', undefined, 'silent'),
    root, ca,
    cleanup: async () => {
      await db.destroy();
      await rm(root, { recursive: true, force: true });
    },
  };
}
