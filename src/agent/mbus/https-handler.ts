// HTTPS mbus (agent-protocol.md §1.7), the create-env path: POST /agent with the same envelope as
// NATS (no size cap), PUT/GET /blobs/<id> into data/blobs, HTTP basic auth from the mbus URL.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { MbusCert } from '../../common/protocol.js';
import type { Logger } from '../../common/logging.js';
import { isValidBlobId } from '../../blobstore/local.js';
import { dispatch, type DispatchDeps } from './dispatcher.js';

export interface HttpsHandlerOptions {
  /** `https://<user>:<password>@<host>:<port>` */
  url: string;
  cert: MbusCert;
  blobsDir: string;
}

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export class HttpsHandler {
  private server?: Server;
  private readonly expectedAuth: string;
  private readonly url: URL;

  constructor(
    private readonly options: HttpsHandlerOptions,
    private readonly logger: Logger,
  ) {
    this.url = new URL(options.url);
    const user = decodeURIComponent(this.url.username);
    const password = decodeURIComponent(this.url.password);
    this.expectedAuth = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  }

  async start(deps: DispatchDeps): Promise<number> {
    const { cert } = this.options;
    if (!cert?.certificate || !cert?.private_key) throw new Error('Missing mbus server certificate (env.bosh.mbus.cert)');
    this.server = createServer({ cert: cert.certificate, key: cert.private_key, minVersion: 'TLSv1.2', ALPNProtocols: ['http/1.1'] }, (req, res) => {
      this.handle(req, res, deps).catch((err: Error) => {
        this.logger.error({ err: err.message }, 'HTTPS mbus request failed');
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(err.message);
      });
    });
    const host = this.url.hostname.replace(/^\[|\]$/g, '');
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(Number(this.url.port || 6868), host, () => resolve());
    });
    const port = (this.server.address() as AddressInfo).port;
    this.logger.info({ host, port }, 'HTTPS mbus listening');
    return port;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections?.();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse, deps: DispatchDeps): Promise<void> {
    if (!sameSecret(req.headers.authorization ?? '', this.expectedAuth)) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm=""' });
      return void res.end();
    }
    const path = new URL(req.url ?? '/', 'https://agent').pathname;
    if (path === '/agent') return this.agentRequest(req, res, deps);
    const blob = /^\/blobs\/([^/]+)$/.exec(path);
    if (blob && (req.method === 'PUT' || req.method === 'GET')) return this.blobRequest(req, res, decodeURIComponent(blob[1]));
    res.writeHead(404);
    res.end();
  }

  private async agentRequest(req: IncomingMessage, res: ServerResponse, deps: DispatchDeps): Promise<void> {
    if (req.method !== 'POST') {
      res.writeHead(404);
      return void res.end();
    }
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch {
      res.writeHead(400);
      return void res.end();
    }
    const result = await dispatch(body, deps);
    if (!result) {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      return void res.end('Invalid JSON request');
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(result.response));
  }

  private async blobRequest(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    if (!isValidBlobId(id)) {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      return void res.end(`Invalid blob id '${id}'`);
    }
    const file = join(this.options.blobsDir, id);
    if (req.method === 'PUT') {
      await mkdir(this.options.blobsDir, { recursive: true, mode: 0o700 });
      const tmp = join(this.options.blobsDir, `.put-${randomUUID()}`);
      try {
        await pipeline(req, createWriteStream(tmp, { mode: 0o640 }));
        await rename(tmp, file);
      } finally {
        await rm(tmp, { force: true });
      }
      res.writeHead(201);
      return void res.end();
    }
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) {
      res.writeHead(404);
      return void res.end();
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': info.size });
    await pipeline(createReadStream(file), res);
  }
}
