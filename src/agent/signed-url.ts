// Signed-URL blob transfers (agent-protocol.md §7.1): plain HTTP(S) GET/PUT with the director's
// headers; downloads digest-verified (3 attempts, 5 s apart), uploads with Expect: 100-continue.
import { request as httpsRequest } from 'node:https';
import { request as httpRequest, type IncomingMessage, type ClientRequest } from 'node:http';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat, mkdir } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { fileDigest, verifyFileDigest } from '../common/digest.js';
import { sleep } from './supervisor/monit-client.js';

export interface SignedUrlOptions {
  /** PEM CA trusted in addition to the system pool (blobstore options.tls.cert.ca). */
  ca?: string;
  retryDelayMs?: number;
}

function send(url: string, method: string, headers: Record<string, string>, ca: string | undefined): ClientRequest {
  const target = new URL(url);
  const requester = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return requester(target, { method, headers, ...(ca ? { ca } : {}) });
}

/** URLs carry signatures: never show the query string in errors or logs. */
function describe(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}

async function drain(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').slice(0, 300);
}

async function getOnce(url: string, headers: Record<string, string>, dest: string, ca?: string): Promise<void> {
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = send(url, 'GET', headers, ca);
    req.on('response', resolve);
    req.on('error', reject);
    req.end();
  });
  const status = res.statusCode ?? 0;
  if (status < 200 || status >= 300) throw new Error(`Getting '${describe(url)}': status ${status}: ${await drain(res)}`);
  await pipeline(res, createWriteStream(dest, { mode: 0o600 }));
}

/** Downloads into tmpDir and verifies `digest`; returns the file path. */
export async function signedGet(url: string, headers: Record<string, string> = {}, digest: string, tmpDir: string, options: SignedUrlOptions = {}): Promise<string> {
  await mkdir(tmpDir, { recursive: true });
  const dest = join(tmpDir, `signed-${randomUUID()}`);
  let last: Error | undefined;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      await getOnce(url, headers, dest, options.ca);
      await verifyFileDigest(dest, digest).catch((err: Error) => {
        throw new Error(`Checking downloaded blob '${describe(url)}': ${err.message}`);
      });
      return dest;
    } catch (err) {
      last = err as Error;
      await rm(dest, { force: true });
      if (attempt < 3) await sleep(options.retryDelayMs ?? 5000);
    }
  }
  throw last!;
}

/** PUTs the file; returns its "sha1;sha512:" digest (§7.3). */
export async function signedPut(url: string, headers: Record<string, string> = {}, file: string, options: SignedUrlOptions = {}): Promise<string> {
  const size = (await stat(file)).size;
  const digest = `${await fileDigest(file, 'sha1')};sha512:${await fileDigest(file, 'sha512')}`;
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = send(url, 'PUT', { ...headers, Expect: '100-continue', 'Content-Length': String(size) }, options.ca);
    req.on('continue', () => createReadStream(file).pipe(req));
    req.on('response', resolve);
    req.on('error', reject);
  });
  const status = res.statusCode ?? 0;
  const body = await drain(res);
  if (status < 200 || status >= 300) throw new Error(`Putting '${describe(url)}': status ${status}: ${body}`);
  return digest;
}
