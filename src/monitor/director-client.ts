// The monitor's HTTPS client for the director API: Basic auth, the director's CA, JSON bodies.
import { readFileSync } from 'node:fs';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { request as httpRequest, Agent as HttpAgent } from 'node:http';
import type { DirectorAccess } from './config.js';

export interface DirectorResponse {
  status: number;
  body: string;
}

export class DirectorError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
    this.name = 'DirectorError';
  }
}

export class DirectorClient {
  private readonly url: URL;
  private readonly authorization: string;
  private readonly agent: HttpsAgent | HttpAgent;
  private info: unknown;

  constructor(access: DirectorAccess, private readonly timeoutMs = 30_000) {
    this.url = new URL(access.endpoint);
    this.authorization = 'Basic ' + Buffer.from(`${access.user}:${access.password}`).toString('base64');
    this.agent =
      this.url.protocol === 'https:'
        ? new HttpsAgent({ keepAlive: true, ca: access.ca_cert ? readFileSync(access.ca_cert, 'utf8') : undefined })
        : new HttpAgent({ keepAlive: true });
  }

  get endpoint(): string {
    return this.url.origin;
  }

  request(method: string, path: string, body?: unknown): Promise<DirectorResponse> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const send = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(
        new URL(path, this.url),
        {
          method,
          agent: this.agent,
          timeout: this.timeoutMs,
          headers: {
            authorization: this.authorization,
            accept: 'application/json',
            ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new DirectorError(`${method} ${path}: timed out`)));
      req.on('error', (err) => reject(new DirectorError(`${method} ${path}: ${err.message}`)));
      req.end(payload);
    });
  }

  /** GET that must answer 200 with JSON. */
  async getJson<T>(path: string): Promise<T> {
    const res = await this.request('GET', path);
    if (res.status !== 200) throw new DirectorError(`GET ${path}: director responded ${res.status}`, res.status);
    try {
      return JSON.parse(res.body) as T;
    } catch {
      throw new DirectorError(`GET ${path}: response is not JSON`);
    }
  }

  /** `GET /info`, fetched once and cached (the resurrector's reachability check). */
  async getInfo(): Promise<unknown> {
    if (this.info === undefined) this.info = await this.getJson('/info');
    return this.info;
  }

  close(): void {
    this.agent.destroy();
  }
}
