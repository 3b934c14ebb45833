// HTTP client for monit's embedded web server (agent-protocol.md §6.3): status XML and
// start/stop/unmonitor service actions, with Basic auth from monit.user and BOSH's retry rules.
import { request, type IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import { parseMonitStatus, type MonitStatus } from './monit-status.js';

export type ServiceAction = 'start' | 'stop' | 'monitor' | 'unmonitor';

export interface MonitClientOptions {
  host?: string;
  port: number;
  user: string;
  password: string;
  retryDelayMs?: number;
}

interface HttpResult {
  status: number;
  body: string;
}

export class MonitClient {
  private readonly delayMs: number;

  constructor(private readonly options: MonitClientOptions) {
    this.delayMs = options.retryDelayMs ?? 1000;
  }

  /** monit.user holds `user:password`. */
  static credentials(monitUserFileText: string): { user: string; password: string } {
    const text = monitUserFileText.trim();
    const colon = text.indexOf(':');
    if (colon < 0) throw new Error('monit.user must contain user:password');
    return { user: text.slice(0, colon), password: text.slice(colon + 1) };
  }

  async status(): Promise<MonitStatus> {
    const res = await this.withRetries(20, () => this.send('GET', '/_status2?format=xml'));
    return parseMonitStatus(res.body);
  }

  async serviceAction(service: string, action: ServiceAction): Promise<void> {
    // stop/unmonitor keep retrying (up to 300) while monit answers 503: it is busy with the service.
    const busyAttempts = action === 'stop' || action === 'unmonitor' ? 300 : 20;
    let attempts = 0;
    for (;;) {
      attempts++;
      let res: HttpResult;
      try {
        res = await this.post(service, action);
      } catch (err) {
        if (attempts >= 20) throw err;
        await sleep(this.delayMs);
        continue;
      }
      if (res.status >= 200 && res.status < 400) return;
      const retryable = res.status === 503 ? attempts < busyAttempts : attempts < 20;
      if (!retryable) throw new Error(`Request failed with ${res.status}: ${res.body.trim()}`);
      await sleep(this.delayMs);
    }
  }

  private post(service: string, action: ServiceAction): Promise<HttpResult> {
    // Debian's monit checks a CSRF token: the same random value as cookie and form field.
    const token = randomBytes(16).toString('hex');
    const body = `action=${action}&securitytoken=${token}`;
    return this.send('POST', `/${encodeURIComponent(service)}`, body, {
      'Content-Type': 'application/x-www-form-urlencoded',
      Cookie: `securitytoken=${token}`,
    });
  }

  private async withRetries(attempts: number, fn: () => Promise<HttpResult>): Promise<HttpResult> {
    let last: Error | undefined;
    for (let i = 1; i <= attempts; i++) {
      try {
        const res = await fn();
        if (res.status >= 200 && res.status < 300) return res;
        last = new Error(`Request failed with ${res.status}: ${res.body.trim()}`);
      } catch (err) {
        last = err as Error;
      }
      if (i < attempts) await sleep(this.delayMs);
    }
    throw last ?? new Error('monit request failed');
  }

  private send(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<HttpResult> {
    const auth = Buffer.from(`${this.options.user}:${this.options.password}`).toString('base64');
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: this.options.host ?? '127.0.0.1',
          port: this.options.port,
          method,
          path,
          headers: { ...headers, Authorization: `Basic ${auth}`, ...(body ? { 'Content-Length': Buffer.byteLength(body) } : {}) },
          timeout: 30_000,
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: decodeBody(res, Buffer.concat(chunks)) }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('monit request timed out')));
      req.on('error', reject);
      req.end(body);
    });
  }
}

/** Monit declares ISO-8859-1; honour the charset instead of assuming UTF-8. */
function decodeBody(res: IncomingMessage, data: Buffer): string {
  const charset = /charset=([^;]+)/i.exec(String(res.headers['content-type'] ?? ''))?.[1]?.trim().toLowerCase();
  const xmlCharset = /encoding="([^"]+)"/i.exec(data.subarray(0, 100).toString('latin1'))?.[1]?.toLowerCase();
  const effective = charset ?? xmlCharset ?? 'utf-8';
  return data.toString(effective === 'iso-8859-1' || effective === 'latin1' ? 'latin1' : 'utf8');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A timeout for Promise.race that does not keep the process alive once the race is decided. */
export function raceTimeout(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
