// The embedded blob server: WebDAV-style PUT/GET/HEAD/DELETE over HTTPS with basic auth, the way
// agents reach the director's blobstore (`<endpoint>/<id>` or `<endpoint>/<2 hex chars>/<id>`).
// The director's user may do everything; an agent's own credential (agent-credentials.ts) only
// reads and adds blobs, and only while the director still has a VM for that agent.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage } from 'node:http';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from '../common/logging.js';
import { LocalBlobstore, isValidBlobId } from './local.js';
import { agentBlobstoreCredential, agentIdOfUser } from './agent-credentials.js';

export interface BlobServerOptions {
  dir: string;
  bind: string;
  port: number;
  user: string;
  password: string;
  tls: { cert: string | Buffer; key: string | Buffer };
  log: Logger;
  /** Accept per-VM agent credentials; without it only the director's user gets in. */
  agents?: AgentAccess;
}

export interface AgentAccess {
  /** Keys the agents' HMAC credentials (the director's blobstore password when not configured apart). */
  secret: string;
  /** Whether the director still has a VM for the agent: a deleted VM's credential stops working. */
  hasVm(agentId: string): Promise<boolean>;
}

/** Who is asking: the director (everything) or one agent (GET, HEAD, PUT of new blobs). */
type Principal = { kind: 'director' } | { kind: 'agent'; agentId: string };

const AGENT_METHODS = new Set(['GET', 'HEAD', 'PUT']);

export interface BlobServer {
  port: number;
  close(): Promise<void>;
}

interface BlobParams {
  prefix?: string;
  id: string;
}

export async function startBlobServer(options: BlobServerOptions): Promise<BlobServer> {
  const store = new LocalBlobstore(options.dir);
  await mkdir(options.dir, { recursive: true });
  const app = Fastify({ https: { cert: options.tls.cert, key: options.tls.key }, logger: false, exposeHeadRoutes: false });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null)); // PUT handlers stream request.raw

  const principals = new WeakMap<IncomingMessage, Principal>();
  app.addHook('onRequest', async (request, reply) => {
    const principal = await authenticate(request.headers.authorization, options);
    if (!principal) {
      return reply.code(401).header('WWW-Authenticate', 'Basic realm="Blobstore"').type('text/plain').send('Not authorized\n');
    }
    if (principal.kind === 'agent' && !AGENT_METHODS.has(request.method)) {
      options.log.warn(`Blob server refused ${request.method} by agent ${principal.agentId}`);
      return reply.code(403).type('text/plain').send('Forbidden\n');
    }
    principals.set(request.raw, principal);
  });
  app.setErrorHandler((err, request, reply) => {
    options.log.error({ err, method: request.method, url: request.url }, 'Blob server request failed');
    void reply.code(500).type('text/plain').send('Internal error\n');
  });

  const blobPath = (request: FastifyRequest<{ Params: BlobParams }>, reply: FastifyReply): string | null => {
    const { prefix, id } = request.params;
    if ((prefix !== undefined && !/^[0-9a-f]{2}$/i.test(prefix)) || !isValidBlobId(id)) {
      void reply.code(400).type('text/plain').send('Invalid blob id\n');
      return null;
    }
    return store.pathFor(id);
  };

  for (const url of ['/:id', '/:prefix/:id']) {
    app.put<{ Params: BlobParams }>(url, async (request, reply) => {
      const path = blobPath(request, reply);
      if (!path) return reply;
      const existed = await fileSize(path) !== null;
      // agents add blobs under new ids; replacing one another VM downloads is the director's business
      if (existed && principals.get(request.raw)?.kind !== 'director') return reply.code(409).type('text/plain').send('Blob exists\n');
      const temp = store.tempPath();
      try {
        await pipeline(request.raw, createWriteStream(temp));
        await rename(temp, path);
      } finally {
        await rm(temp, { force: true });
      }
      return reply.code(existed ? 204 : 201).send();
    });
    app.get<{ Params: BlobParams }>(url, async (request, reply) => {
      const path = blobPath(request, reply);
      if (!path) return reply;
      const size = await fileSize(path);
      if (size === null) return reply.code(404).type('text/plain').send('Not found\n');
      return reply.header('Content-Length', size).type('application/octet-stream').send(createReadStream(path));
    });
    app.head<{ Params: BlobParams }>(url, async (request, reply) => {
      const path = blobPath(request, reply);
      if (!path) return reply;
      const size = await fileSize(path);
      if (size === null) return reply.code(404).send();
      return reply.header('Content-Length', size).code(200).send();
    });
    app.delete<{ Params: BlobParams }>(url, async (request, reply) => {
      const path = blobPath(request, reply);
      if (!path) return reply;
      if ((await fileSize(path)) === null) return reply.code(404).send();
      await rm(path, { force: true });
      return reply.code(204).send();
    });
  }

  await app.listen({ host: options.bind, port: options.port });
  const port = (app.server.address() as AddressInfo).port;
  options.log.info(`Blob server listening on ${options.bind}:${port}`);
  return { port, close: () => app.close() };
}

async function fileSize(path: string): Promise<number | null> {
  try {
    const info = await stat(path);
    return info.isFile() ? info.size : null;
  } catch {
    return null;
  }
}

async function authenticate(header: string | undefined, options: BlobServerOptions): Promise<Principal | null> {
  const creds = parseBasicAuth(header);
  if (!creds) return null;
  if (safeEqual(creds.user, options.user) && safeEqual(creds.password, options.password)) return { kind: 'director' };
  const agentId = options.agents ? agentIdOfUser(creds.user) : null;
  if (!agentId || !options.agents) return null;
  if (!safeEqual(creds.password, agentBlobstoreCredential(options.agents.secret, agentId).password)) return null;
  return (await options.agents.hasVm(agentId)) ? { kind: 'agent', agentId } : null;
}

export function parseBasicAuth(header: string | undefined): { user: string; password: string } | null {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!match) return null;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? null : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Constant-time comparison, so response timing does not leak how much of a password matched. */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
