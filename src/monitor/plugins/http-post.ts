// A small JSON-over-HTTP(S) sender for the plugins that talk to web services. URLs may carry
// keys in their query strings in some services' APIs, so they are never logged.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface PostResult {
  status: number;
  body: string;
}

export function sendJson(method: string, url: string, body: unknown, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<PostResult> {
  const payload = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      target,
      { method, timeout: timeoutMs, headers: { ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}), ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${target.host}${target.pathname}: timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Throws unless the status is 2xx; the message names host and path only. */
export async function expectSuccess(method: string, url: string, body: unknown, headers?: Record<string, string>): Promise<PostResult> {
  const result = await sendJson(method, url, body, headers);
  if (result.status < 200 || result.status > 299) {
    const target = new URL(url);
    throw new Error(`${method} ${target.host}${target.pathname} answered ${result.status}`);
  }
  return result;
}
