// DAV blobstore client (GET/PUT/DELETE/HEAD <endpoint>/<id>, basic auth, optional custom CA).
// Used by the agent for provider "dav"; new ids are UUID v4.
import type { IncomingMessage, RequestOptions } from 'node:http';
import type { Readable } from 'node:stream';
import { bodyText, HttpBlobstore, isSuccess, sendRequest, type Headers } from './http-blobstore.js';

export interface DavOptions {
  endpoint: string;
  user?: string;
  password?: string;
  tls?: { cert?: { ca?: string } };
}

export class DavBlobstore extends HttpBlobstore {
  private readonly base: URL;

  constructor(private readonly options: DavOptions) {
    super();
    if (!options.endpoint) throw new Error('DAV blobstore needs options.endpoint');
    this.base = new URL(options.endpoint.endsWith('/') ? options.endpoint : `${options.endpoint}/`);
  }

  protected send(method: string, id: string, headers: Headers = {}, body?: Readable): Promise<IncomingMessage> {
    const url = new URL(encodeURIComponent(id), this.base);
    const options: RequestOptions & { ca?: string } = { method, headers: { ...headers } };
    if (this.options.user !== undefined) {
      const token = Buffer.from(`${this.options.user}:${this.options.password ?? ''}`).toString('base64');
      (options.headers as Headers).Authorization = `Basic ${token}`;
    }
    const ca = this.options.tls?.cert?.ca;
    if (ca) options.ca = ca;
    return sendRequest(url.protocol === 'https:', url, options, `${method} blob '${id}'`, body);
  }

  protected async expectSuccess(res: IncomingMessage, what: string): Promise<void> {
    const text = await bodyText(res);
    if (!isSuccess(res)) throw new Error(`${what}: status ${res.statusCode}: ${text.slice(0, 500)}`);
  }
}

