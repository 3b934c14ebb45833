// The embedded blob server: WebDAV-style PUT/GET/HEAD/DELETE over HTTPS with basic auth, the way
// agents reach the director's blobstore (`<endpoint>/<id>` or `<endpoint>/<2 hex chars>/<id>`).
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from '../common/logging.js';
import { LocalBlobstore, isValidBlobId } from './local.js';

export interface BlobServerOptions {
  dir: string;
  bind: string;
  port: number;
  user: string;
  password: string;
  tls: { cert: string | Buffer; key: string | Buffer };
  log: Logger;
}

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

  app.addHook('onRequest', async (request, reply) => {
    if (!authorized(request.headers.authorization, options.user, options.password)) {
      return reply.code(401).header('WWW-Authenticate', 'Basic realm="Blobstore"').type('text/plain').send('Not authorized\n');
    }
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

export function authorized(header: string | undefined, user: string, password: string): boolean {
  const creds = parseBasicAuth(header);
  return creds !== null && safeEqual(creds.user, user) && safeEqual(creds.password, password);
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
