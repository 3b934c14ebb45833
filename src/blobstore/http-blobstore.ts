// What the HTTP blobstore clients (dav, s3) share: the Blobstore verbs over one `send(method, id)` each
// provider implements (URL, auth, TLS), and the sending of a request with an optional streamed body.
import { request as httpsRequest } from 'node:https';
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { BlobNotFound, type Blobstore } from './blobstore.js';

export type Headers = Record<string, string>;

export const isSuccess = (res: IncomingMessage): boolean => (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300;

export abstract class HttpBlobstore implements Blobstore {
  protected abstract send(method: string, id: string, headers?: Headers, body?: Readable): Promise<IncomingMessage>;

  /** Drains the answer; throws `<what>: status N...` (with what the provider's error body says) unless 2xx. */
  protected abstract expectSuccess(res: IncomingMessage, what: string): Promise<void>;

  async put(filePath: string, id: string = randomUUID()): Promise<string> {
    const size = (await stat(filePath)).size;
    const res = await this.send('PUT', id, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) }, createReadStream(filePath));
    await this.expectSuccess(res, `Putting blob '${id}'`);
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
    if (!isSuccess(res)) await this.expectSuccess(res, `Getting blob '${id}'`);
    return res;
  }

  async delete(id: string): Promise<void> {
    const res = await this.send('DELETE', id);
    if (res.statusCode === 404) return void res.resume();
    await this.expectSuccess(res, `Deleting blob '${id}'`);
  }

  async exists(id: string): Promise<boolean> {
    const res = await this.send('HEAD', id);
    res.resume();
    if (res.statusCode === 404) return false;
    if (isSuccess(res)) return true;
    throw new Error(`Checking blob '${id}': status ${res.statusCode}`);
  }
}

/** Sends one request (https or http by `secure`), streaming body when given; errors name the method and blob. */
export function sendRequest(secure: boolean, url: URL | RequestOptions, options: RequestOptions, what: string, body?: Readable): Promise<IncomingMessage> {
  const requester = secure ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = url instanceof URL ? requester(url, options, resolve) : requester({ ...url, ...options }, resolve);
    req.on('error', (err) => reject(new Error(`${what}: ${err.message}`)));
    if (body) {
      body.on('error', (err) => req.destroy(err));
      body.pipe(req);
    } else {
      req.end();
    }
  });
}

/** The answer's body as text (for error messages). */
export async function bodyText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
