// S3 blobstore client (agent provider "s3", director-api §7.1, and release blobstores of config/final.yml):
// GET/PUT of `<folder>/<id>` in a bucket with AWS Signature V4 (the `aws4` signing library), taking the
// bosh s3cli options. Path-style addressing unless host_style is set; credentials_source "none" sends unsigned requests.
import { request as httpsRequest } from 'node:https';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import aws4 from 'aws4';
import { BlobNotFound, type Blobstore } from './blobstore.js';

export interface S3Options {
  bucket_name: string;
  credentials_source?: 'static' | 'env_or_profile' | 'none';
  access_key_id?: string;
  secret_access_key?: string;
  session_token?: string;
  region?: string;
  host?: string;
  port?: number;
  use_ssl?: boolean;
  ssl_verify_peer?: boolean;
  /** Virtual-hosted style (`<bucket>.<host>`) instead of path style. */
  host_style?: boolean;
  folder_name?: string;
  tls?: { cert?: { ca?: string } };
}

export class S3Blobstore implements Blobstore {
  private readonly region: string;
  private readonly host: string;
  private readonly secure: boolean;

  constructor(private readonly options: S3Options) {
    if (!options.bucket_name) throw new Error('S3 blobstore needs options.bucket_name');
    this.region = options.region || 'us-east-1';
    this.host = options.host || (this.region === 'us-east-1' ? 's3.amazonaws.com' : `s3.${this.region}.amazonaws.com`);
    this.secure = options.use_ssl !== false;
  }

  async put(filePath: string, id: string = randomUUID()): Promise<string> {
    const size = (await stat(filePath)).size;
    // The payload hash is not computed for streamed bodies; S3 accepts UNSIGNED-PAYLOAD over TLS.
    const res = await this.send('PUT', id, { 'Content-Length': String(size), 'Content-Type': 'application/octet-stream' }, createReadStream(filePath));
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
    await expectSuccess(res, `Getting blob '${id}'`, false);
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
    if ((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300) return true;
    throw new Error(`Checking blob '${id}': status ${res.statusCode}`);
  }

  private credentials(): { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined {
    const o = this.options;
    if (o.credentials_source === 'none') return undefined;
    if (o.credentials_source === 'env_or_profile') {
      const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken } = process.env;
      if (!accessKeyId || !secretAccessKey) throw new Error('S3 credentials_source env_or_profile: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set');
      return { accessKeyId, secretAccessKey, sessionToken };
    }
    if (!o.access_key_id || !o.secret_access_key) throw new Error('S3 blobstore needs access_key_id and secret_access_key');
    return { accessKeyId: o.access_key_id, secretAccessKey: o.secret_access_key, sessionToken: o.session_token };
  }

  private send(method: string, id: string, headers: Record<string, string> = {}, body?: Readable): Promise<IncomingMessage> {
    const o = this.options;
    const key = [o.folder_name, id].filter((p): p is string => Boolean(p)).map((p) => encodeURIComponent(p)).join('/');
    const host = o.host_style ? `${o.bucket_name}.${this.host}` : this.host;
    const path = o.host_style ? `/${key}` : `/${encodeURIComponent(o.bucket_name)}/${key}`;
    const port = o.port ?? (this.secure ? 443 : 80);
    const hostHeader = port === (this.secure ? 443 : 80) ? host : `${host}:${port}`;
    const request = { method, host: hostHeader, path, service: 's3', region: this.region, headers: { ...headers, 'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD' } as Record<string, string> };
    const creds = this.credentials();
    if (creds) aws4.sign(request, creds);
    const requester = this.secure ? httpsRequest : httpRequest;
    const ca = o.tls?.cert?.ca;
    return new Promise((resolve, reject) => {
      const req = requester({
        method,
        host,
        port,
        path,
        headers: request.headers,
        ...(this.secure ? { rejectUnauthorized: o.ssl_verify_peer !== false, ...(ca ? { ca } : {}) } : {}),
      });
      req.on('response', resolve);
      req.on('error', (err) => reject(new Error(`${method} blob '${id}': ${err.message}`)));
      if (body) {
        body.on('error', (err) => req.destroy(err));
        body.pipe(req);
      } else req.end();
    });
  }
}

async function expectSuccess(res: IncomingMessage, what: string, consume = true): Promise<void> {
  const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300;
  if (ok) {
    if (consume) res.resume();
    return;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1];
  throw new Error(`${what}: status ${res.statusCode}${code ? ` (${code})` : ''}`);
}
