// DAV blobstore client (GET/PUT/DELETE/HEAD <endpoint>/<id>, basic auth, optional custom CA).
// Used by the agent for provider "dav"; new ids are UUID v4.
import { request as httpsRequest } from 'node:https';
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { BlobNotFound, type Blobstore } from './blobstore.js';

export interface DavOptions {
  endpoint: string;
  user?: string;
  password?: string;
  tls?: { cert?: { ca?: string } };
}

export class DavBlobstore implements Blobstore {
  private readonly base: URL;

  constructor(private readonly options: DavOptions) {
    if (!options.endpoint) throw new Error('DAV blobstore needs options.endpoint');
    this.base = new URL(options.endpoint.endsWith('/') ? options.endpoint : `${options.endpoint}/`);
  }

  async put(filePath: string, id: string = randomUUID()): Promise<string> {
    const size = (await stat(filePath)).size;
    const res = await this.send('PUT', id, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) }, createReadStream(filePath));
    await expectSuccess(res, `Putting blob '${id}'`);
    return id;
  }

  async get(id: string, destPath: string): Promise<void> {
    await pipeline(await this.getStream(id), createWriteStream(destPath, { mode: 0o600 }));
  }

  async getStream(id: string): Promise<Readable> {
    const res = await this.send('GET', id);
    if (res.statusCode === 404) {
      res.resume();
      throw new BlobNotFound(id);
    }
    if (!isSuccess(res)) await expectSuccess(res, `Getting blob '${id}'`);
    return res;
  }

  async delete(id: string): Promise<void> {
    const res = await this.send('DELETE', id);
    if (res.statusCode === 404) return void res.resume();
    await expectSuccess(res, `Deleting blob '${id}'`);
  }

  async exists(id: string): Promise<boolean> {
    const res = await this.send('HEAD', id);
    res.resume();
    if (res.statusCode === 404) return false;
    if (isSuccess(res)) return true;
    throw new Error(`Checking blob '${id}': status ${res.statusCode}`);
  }

  private send(method: string, id: string, headers: Record<string, string> = {}, body?: Readable): Promise<IncomingMessage> {
    const url = new URL(encodeURIComponent(id), this.base);
    const options: RequestOptions & { ca?: string } = { method, headers: { ...headers } };
    if (this.options.user !== undefined) {
      const token = Buffer.from(`${this.options.user}:${this.options.password ?? ''}`).toString('base64');
      (options.headers as Record<string, string>).Authorization = `Basic ${token}`;
    }
    const ca = this.options.tls?.cert?.ca;
    if (ca) options.ca = ca;
    const requester = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = requester(url, options, resolve);
      req.on('error', (err) => reject(new Error(`${method} blob '${id}': ${err.message}`)));
      if (body) {
        body.on('error', (err) => req.destroy(err));
        body.pipe(req);
      } else {
        req.end();
      }
    });
  }
}

function isSuccess(res: IncomingMessage): boolean {
  return (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300;
}

async function expectSuccess(res: IncomingMessage, what: string): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  if (!isSuccess(res)) {
    throw new Error(`${what}: status ${res.statusCode}: ${Buffer.concat(chunks).toString('utf8').slice(0, 500)}`);
  }
}
