// S3 blobstore client (agent provider "s3", director-api §7.1, and release blobstores of config/final.yml):
// GET/PUT of `<folder>/<id>` in a bucket with AWS Signature V4 (the `aws4` signing library), taking the
// bosh s3cli options. Path-style addressing unless host_style is set; credentials_source "none" sends unsigned requests.
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import aws4 from 'aws4';
import { bodyText, HttpBlobstore, isSuccess, sendRequest, type Headers } from './http-blobstore.js';

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

export class S3Blobstore extends HttpBlobstore {
  private readonly region: string;
  private readonly host: string;
  private readonly secure: boolean;

  constructor(private readonly options: S3Options) {
    super();
    if (!options.bucket_name) throw new Error('S3 blobstore needs options.bucket_name');
    this.region = options.region || 'us-east-1';
    this.host = options.host || (this.region === 'us-east-1' ? 's3.amazonaws.com' : `s3.${this.region}.amazonaws.com`);
    this.secure = options.use_ssl !== false;
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

  protected send(method: string, id: string, headers: Headers = {}, body?: Readable): Promise<IncomingMessage> {
    const o = this.options;
    const key = [o.folder_name, id].filter((p): p is string => Boolean(p)).map((p) => encodeURIComponent(p)).join('/');
    const host = o.host_style ? `${o.bucket_name}.${this.host}` : this.host;
    const path = o.host_style ? `/${key}` : `/${encodeURIComponent(o.bucket_name)}/${key}`;
    const port = o.port ?? (this.secure ? 443 : 80);
    const hostHeader = port === (this.secure ? 443 : 80) ? host : `${host}:${port}`;
    const request = { method, host: hostHeader, path, service: 's3', region: this.region, headers: { ...headers, 'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD' } as Record<string, string> };
    const creds = this.credentials();
    if (creds) aws4.sign(request, creds);
    const ca = o.tls?.cert?.ca;
    const tls = this.secure ? { rejectUnauthorized: o.ssl_verify_peer !== false, ...(ca ? { ca } : {}) } : {};
    return sendRequest(this.secure, { host, port, path }, { method, headers: request.headers, ...tls }, `${method} blob '${id}'`, body);
  }

  protected async expectSuccess(res: IncomingMessage, what: string): Promise<void> {
    const text = await bodyText(res);
    if (isSuccess(res)) return;
    const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1];
    throw new Error(`${what}: status ${res.statusCode}${code ? ` (${code})` : ''}`);
  }
}

