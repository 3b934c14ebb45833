// Shared test scaffolding: a real director (HTTPS API, blob server, SQLite, task worker) in a temp dir,
// with in-memory CPI and agent seams.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpsRequest } from 'node:https';
import forge from 'node-forge';
import { createLogger, type Logger } from '../../src/common/logging.js';
import type { Cpi } from '../../src/cpi/cpi.js';
import type { AgentClientFactory } from '../../src/director/agent-client.js';
import type { DirectorConfig } from '../../src/director/config.js';
import type { TaskJob } from '../../src/director/context.js';
import { startDirectorWith, type RunningDirector } from '../../src/director/server.js';
import { testDatabase } from '../support/test-db.js';

export const ADMIN = { name: 'admin', password: 'test-admin-password' };
export const BLOB_USER = { user: 'blob-user', password: 'blob-password' };

export function makeTempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A self-signed certificate for 127.0.0.1 / localhost. */
export function makeCertificate(): { cert: string; key: string } {
  const keys = forge.pki.rsa.generateKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  const attrs = [{ name: 'commonName', value: '127.0.0.1' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true },
    { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey) };
}

let sharedCert: { cert: string; key: string } | undefined;
export const certificate = () => (sharedCert ??= makeCertificate());

export function makeConfig(dir: string): DirectorConfig {
  const { cert, key } = certificate();
  writeFileSync(join(dir, 'director.pem'), cert);
  writeFileSync(join(dir, 'director.key'), key);
  return {
    name: 'test-director',
    uuid: 'test-uuid',
    bind: '127.0.0.1',
    port: 0,
    base_dir: join(dir, 'director'),
    tls: { certificate_path: join(dir, 'director.pem'), private_key_path: join(dir, 'director.key') },
    users: [ADMIN],
    db: testDatabase(join(dir, 'director', 'db.sqlite')),
    blobstore: {
      path: join(dir, 'blobstore'),
      server: { bind: '127.0.0.1', port: 0, ...BLOB_USER },
      agent_endpoint: 'https://127.0.0.1:0',
    },
    nats: { url: 'nats://127.0.0.1:4222', agent_url: 'nats://127.0.0.1:4222', ca_path: '', client_certificate_path: '', client_private_key_path: '' },
    agent_ca: { certificate_path: '', private_key_path: '' },
    cpi: { type: 'dummy', base_dir: join(dir, 'cpi') },
    agent_wait_timeout_seconds: 10,
  };
}

/** An in-memory CPI: stemcells and VMs are map entries; calls are recorded. */
export class FakeCpi implements Cpi {
  readonly calls: Array<{ method: string; args: unknown[] }> = [];
  readonly stemcells = new Map<string, string>();
  private next = 1;

  async info() {
    return { stemcell_formats: ['docker-light', 'dummy'] };
  }
  async createStemcell(imagePath: string, cloudProperties: Record<string, unknown>) {
    this.calls.push({ method: 'create_stemcell', args: [imagePath, cloudProperties] });
    const cid = `stemcell-cid-${this.next++}`;
    this.stemcells.set(cid, imagePath);
    return cid;
  }
  async deleteStemcell(cid: string) {
    this.calls.push({ method: 'delete_stemcell', args: [cid] });
    this.stemcells.delete(cid);
  }
  async createVm(): Promise<string> {
    throw new Error('not used by the director-core tests');
  }
  async deleteVm() {}
  async hasVm() {
    return false;
  }
}

const noAgents: AgentClientFactory = {
  forAgent: () => {
    throw new Error('no agents in director-core tests');
  },
  waitUntilReady: async () => {
    throw new Error('no agents in director-core tests');
  },
  close: async () => undefined,
};

export interface TestDirector extends RunningDirector {
  config: DirectorConfig;
  cpi: FakeCpi;
  request(method: string, path: string, options?: RequestOptions): Promise<Response>;
  waitForTask(id: number): Promise<TaskJson>;
}

export interface RequestOptions {
  auth?: { name: string; password: string } | null;
  headers?: Record<string, string>;
  body?: string | Buffer;
  port?: number;
}

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
  json<T = any>(): T;
}

export interface TaskJson {
  id: number;
  state: string;
  description: string;
  result: string | null;
  timestamp: number | null;
  started_at: number | null;
  user: string;
  deployment: string | null;
  context_id: string;
}

export function httpsCall(port: number, method: string, path: string, options: RequestOptions = {}): Promise<Response> {
  const auth = options.auth === undefined ? ADMIN : options.auth;
  const headers: Record<string, string> = { ...options.headers };
  if (auth) headers.authorization = `Basic ${Buffer.from(`${auth.name}:${auth.password}`).toString('base64')}`;
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, method, path, headers, ca: certificate().cert }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8'), json: () => JSON.parse(body.toString('utf8')) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

export async function startTestDirector(
  dir: string,
  options: { jobs?: Record<string, TaskJob>; config?: DirectorConfig; log?: Logger } = {},
): Promise<TestDirector> {
  const config = options.config ?? makeConfig(dir);
  const cpi = new FakeCpi();
  const running = await startDirectorWith(config, {
    cpi,
    cpiName: 'fake',
    agents: noAgents,
    log: options.log ?? createLogger('test-director', undefined, 'silent'),
    jobs: options.jobs,
    worker: { pollIntervalMs: 100 },
  });
  const request = (method: string, path: string, opts?: RequestOptions) => httpsCall(opts?.port ?? running.port, method, path, opts);
  return {
    ...running,
    config,
    cpi,
    request,
    async waitForTask(id) {
      for (;;) {
        const task = (await request('GET', `/tasks/${id}`)).json<TaskJson>();
        if (!['queued', 'processing', 'cancelling'].includes(task.state)) return task;
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/** The task id from a 302 answer of an async endpoint. */
export function taskIdFrom(response: Response): number {
  const location = String(response.headers.location ?? '');
  const match = /^\/tasks\/(\d+)$/.exec(location);
  if (response.status !== 302 || !match) throw new Error(`Expected 302 to /tasks/<id>, got ${response.status} '${location}': ${response.text}`);
  return Number(match[1]);
}

/** The JSON lines of a task's event output. */
export async function taskEvents(director: TestDirector, id: number): Promise<Array<Record<string, any>>> {
  const res = await director.request('GET', `/tasks/${id}/output?type=event`);
  if (res.status === 204) return [];
  return res.text.trimEnd().split('\n').map((line) => JSON.parse(line));
}
