// HTTP client for the director API (director-api.md §1): HTTPS with the environment CA, Basic
// auth, async operations answered with 302 -> /tasks/<id> that are then polled every 500 ms
// while the task's event output is fetched with Range requests.
import { request as httpsRequest, Agent } from 'node:https';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface DirectorTarget {
  url: string;
  /** PEM text of the CA that signed the director's certificate (system roots when absent). */
  caCert?: string;
  client?: string;
  clientSecret?: string;
}

export type TaskState = 'queued' | 'processing' | 'cancelling' | 'done' | 'error' | 'cancelled' | 'timeout';

export interface Task {
  id: number;
  state: TaskState;
  description: string;
  timestamp: number | null;
  started_at: number | null;
  result: string | null;
  user: string;
  deployment: string | null;
  context_id?: string;
}

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export type Body = string | Buffer | { file: string };

export interface RequestOptions {
  body?: Body;
  contentType?: string;
  headers?: Record<string, string>;
  query?: Record<string, string | number | boolean | undefined>;
  /** Called as a file body is sent (bytes sent, total). */
  progress?: (done: number, total: number) => void;
}

/** Receives what the client sees of a task (the task event renderer implements it). */
export interface TaskReporter {
  taskStarted(id: number): void;
  taskOutputChunk(id: number, chunk: Buffer): void;
  taskFinished(id: number, state: string): void;
}

export class DirectorError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'DirectorError';
  }
}

/** The request got no answer for a reason that may pass (connection refused or reset). */
export class NetworkError extends DirectorError {}

export class TaskError extends Error {
  constructor(readonly task: Task) {
    super(`Expected task '${task.id}' to succeed but state is '${task.state}'`);
    this.name = 'TaskError';
  }
}

const ACCEPTED = new Set([200, 201, 204, 206, 302]);
// Failures worth another try; certificate and address errors are not.
const TRANSIENT = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
const RUNNING: ReadonlySet<TaskState> = new Set(['queued', 'processing', 'cancelling']);

export class DirectorClient {
  private readonly base: URL;
  private readonly agent: Agent | undefined;

  constructor(
    readonly target: DirectorTarget,
    private readonly options: { pollIntervalMs?: number } = {},
  ) {
    this.base = new URL(normalizeDirectorUrl(target.url));
    this.agent = this.base.protocol === 'https:' ? new Agent({ ca: target.caCert, keepAlive: true }) : undefined;
  }

  get url(): string {
    return this.base.origin;
  }

  close(): void {
    this.agent?.destroy();
  }

  /**
   * One HTTP exchange; no status check, no redirect handling. Network-level failures are retried
   * (5 tries, 500 ms apart, as the bosh CLI does) unless the body is a file stream.
   */
  async raw(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.exchange(method, path, options);
      } catch (err) {
        if (!(err instanceof NetworkError) || attempt >= 5 || isFileBody(options.body ?? '')) throw err;
        await sleep(500);
      }
    }
  }

  private async exchange(method: string, path: string, options: RequestOptions): Promise<Response> {
    const url = new URL(path, this.base);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string | number> = { ...options.headers };
    if (this.target.client) {
      const token = Buffer.from(`${this.target.client}:${this.target.clientSecret ?? ''}`).toString('base64');
      headers.Authorization = `Basic ${token}`;
    }
    if (options.contentType) headers['Content-Type'] = options.contentType;
    const body = options.body;
    if (body !== undefined) {
      headers['Content-Length'] = isFileBody(body) ? statSync(body.file).size : Buffer.byteLength(body);
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<Response>((resolve, reject) => {
      const req = send(url, { method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        const message = `Performing request ${method} '${url.origin}${url.pathname}': ${err.message}`;
        reject(TRANSIENT.has(err.code ?? '') ? new NetworkError(message) : new DirectorError(message));
      });
      if (body === undefined) req.end();
      else if (isFileBody(body)) {
        const total = Number(headers['Content-Length']);
        let sent = 0;
        const source = createReadStream(body.file).on('error', reject);
        if (options.progress) {
          const report = options.progress;
          source.on('data', (chunk) => report((sent += chunk.length), total));
        }
        source.pipe(req);
      }
      else req.end(body);
    });
  }

  /** A request whose status must be one the CLI accepts (200, 201, 204, 206, 302). */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const res = await this.raw(method, path, options);
    if (!ACCEPTED.has(res.status)) {
      throw new DirectorError(
        `Director responded with non-successful status code '${res.status}' response '${res.body.toString('utf8')}'`,
        res.status,
      );
    }
    return res;
  }

  async getJson<T>(path: string, query?: RequestOptions['query']): Promise<T> {
    const res = await this.request('GET', path, { query });
    return JSON.parse(res.body.toString('utf8')) as T;
  }

  async sendJson<T>(method: string, path: string, body: unknown, query?: RequestOptions['query']): Promise<T | undefined> {
    const res = await this.request(method, path, { body: JSON.stringify(body), contentType: 'application/json', query });
    const text = res.body.toString('utf8');
    return text ? (JSON.parse(text) as T) : undefined;
  }

  info(): Promise<DirectorInfo> {
    return this.getJson<DirectorInfo>('/info');
  }

  /**
   * Starts an async operation: the director answers 302 Location /tasks/<id>; like the Go CLI,
   * the redirect is followed as a GET against the configured director (whatever host the
   * Location names) and yields the task.
   */
  async startTask(method: string, path: string, options: RequestOptions = {}): Promise<Task> {
    const res = await this.request(method, path, options);
    if (res.status !== 302) {
      throw new DirectorError(`Expected a redirect to a task from ${method} '${path}' but got status '${res.status}'`, res.status);
    }
    const location = res.headers.location;
    if (!location) throw new DirectorError(`Director redirected ${method} '${path}' without a Location`);
    const followed = new URL(location, this.base);
    return this.getJson<Task>(followed.pathname + followed.search);
  }

  getTask(id: number): Promise<Task> {
    return this.getJson<Task>(`/tasks/${id}`);
  }

  /** Polls the task until it leaves queued/processing/cancelling, streaming its events to the reporter. */
  async waitForTask(task: Task, reporter: TaskReporter, outputType = 'event'): Promise<Task> {
    const stream = new TaskOutputStream(this, task.id, outputType);
    reporter.taskStarted(task.id);
    let current = task;
    for (;;) {
      const chunk = await stream.next();
      if (chunk.length > 0) reporter.taskOutputChunk(task.id, chunk);
      if (!RUNNING.has(current.state)) break;
      await sleep(this.options.pollIntervalMs ?? 500);
      current = await this.getTask(task.id);
      if (!RUNNING.has(current.state)) {
        const rest = await stream.next(); // events written just before the task ended
        if (rest.length > 0) reporter.taskOutputChunk(task.id, rest);
        break;
      }
    }
    reporter.taskFinished(task.id, current.state);
    return current;
  }

  /** Whole task output of one type (result, debug, ...). */
  async taskOutput(id: number, type: string): Promise<string> {
    const res = await this.request('GET', `/tasks/${id}/output`, { query: { type } });
    return res.status === 204 ? '' : res.body.toString('utf8');
  }

  /** Streams a GET response body (a resource tarball) into a file. */
  async download(path: string, file: string, progress?: (done: number, total: number) => void): Promise<void> {
    const url = new URL(path, this.base);
    const headers: Record<string, string> = {};
    if (this.target.client) headers.Authorization = `Basic ${Buffer.from(`${this.target.client}:${this.target.clientSecret ?? ''}`).toString('base64')}`;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    await new Promise<void>((resolve, reject) => {
      const req = send(url, { method: 'GET', headers, agent: this.agent }, (res) => {
        if (res.statusCode !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            reject(new DirectorError(`Director responded with non-successful status code '${res.statusCode}' response '${Buffer.concat(chunks).toString('utf8')}'`, res.statusCode)),
          );
          return;
        }
        const out = createWriteStream(file);
        const total = Number(res.headers['content-length'] ?? 0);
        let received = 0;
        if (progress && total > 0) res.on('data', (chunk: Buffer) => progress((received += chunk.length), total));
        res.pipe(out);
        out.on('finish', () => resolve());
        out.on('error', reject);
        res.on('error', reject);
      });
      req.on('error', (err) => reject(new DirectorError(`Performing request GET '${url.origin}${url.pathname}': ${err.message}`)));
      req.end();
    });
  }

  /** startTask + waitForTask; throws TaskError unless the task ends `done`. */
  async runTask(method: string, path: string, options: RequestOptions, reporter: TaskReporter): Promise<Task> {
    const task = await this.startTask(method, path, options);
    const finished = await this.waitForTask(task, reporter);
    if (finished.state !== 'done') throw new TaskError(finished);
    return finished;
  }
}

/**
 * Reads a task's output incrementally with `Range: bytes=<offset>-`: 206 is new bytes, 416 is
 * "nothing new", 204 is no output yet, and a 200 (server ignored the range) is the whole body.
 */
export class TaskOutputStream {
  private offset = 0;

  constructor(
    private readonly client: DirectorClient,
    private readonly taskId: number,
    private readonly type: string,
  ) {}

  async next(): Promise<Buffer> {
    const res = await this.client.raw('GET', `/tasks/${this.taskId}/output`, {
      query: { type: this.type },
      headers: { Range: `bytes=${this.offset}-` },
    });
    if (res.status === 416 || res.status === 204) return Buffer.alloc(0);
    if (res.status !== 206 && res.status !== 200) {
      throw new DirectorError(
        `Director responded with non-successful status code '${res.status}' response '${res.body.toString('utf8')}'`,
        res.status,
      );
    }
    const fresh = res.status === 200 ? res.body.subarray(Math.min(this.offset, res.body.length)) : res.body;
    this.offset += fresh.length;
    return fresh;
  }
}

export interface DirectorInfo {
  name: string;
  uuid: string;
  version: string;
  user: string | null;
  cpi: string;
  user_authentication: { type: string; options: Record<string, unknown> };
  features?: Record<string, { status: boolean; extras?: Record<string, unknown> }>;
}

/** bosh accepts `host`, `host:port` or a URL; the scheme is https and the port 25555 by default. */
export function normalizeDirectorUrl(value: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `https://${value}`;
  const url = new URL(withScheme);
  if (!url.port && !/^[a-z][a-z0-9+.-]*:\/\/[^/]*:\d+/i.test(withScheme)) url.port = '25555';
  return url.origin;
}

function isFileBody(body: Body): body is { file: string } {
  return typeof body === 'object' && !Buffer.isBuffer(body);
}
