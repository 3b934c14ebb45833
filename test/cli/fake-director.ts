// A tiny HTTPS fake of the director API (the seam the CLI talks to): /info, a task created
// with 302, a task whose state and event log advance on every poll, and Range/416 output.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { generateCa, issueCertificate } from '../../src/environment/certs.js';

export interface FakeTask {
  id: number;
  states: string[]; // state reported on successive GET /tasks/<id>; the last one sticks
  events: string[]; // event log pieces appended one per GET /tasks/<id> (may cut lines)
  result?: string;
  /** the task's own `result` field (fetch_logs puts the blob id there) */
  taskResult?: string;
  description?: string;
}

export interface FakeDirector {
  url: string;
  caPath: string;
  caPem: string;
  app: FastifyInstance;
  ranges: Array<{ range: string | undefined; status: number }>;
  requests: Array<{ method: string; url: string; contentType?: string; body?: string }>;
  tasks: Map<number, FakeTask>;
  /** What POST/DELETE/GET routes that create tasks answer with: the task id. */
  route(method: 'GET' | 'POST' | 'DELETE' | 'PUT', path: string, task: FakeTask): void;
  /** A fixed answer (JSON unless a Buffer or string) for a method and path. */
  respond(method: string, path: string, body: unknown, status?: number): void;
  close(): Promise<void>;
}

export const USER = 'admin';
export const PASSWORD = 'fake-password';

export async function startFakeDirector(): Promise<FakeDirector> {
  const dir = mkdtempSync(join(tmpdir(), 'capstan-fake-director-'));
  const ca = generateCa('Fake CA');
  const server = issueCertificate(ca, { commonName: 'fake-director', ipAddresses: ['127.0.0.1'], usage: 'server' });
  const caPath = join(dir, 'ca.pem');
  writeFileSync(caPath, ca.certificate);

  const app = Fastify({ https: { key: server.privateKey, cert: server.certificate } });
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  // bosh sends `Content-Type: application/json` without a body on some POSTs (cck scans)
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, body === '' ? undefined : JSON.parse(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  const tasks = new Map<number, FakeTask>();
  const polls = new Map<number, number>();
  const ranges: FakeDirector['ranges'] = [];
  const requests: FakeDirector['requests'] = [];
  const expected = 'Basic ' + Buffer.from(`${USER}:${PASSWORD}`).toString('base64');

  app.addHook('onRequest', async (req, reply) => {
    if (req.url.startsWith('/info')) return;
    if (req.headers.authorization !== expected) {
      reply.code(401).header('WWW-Authenticate', 'Basic realm="BOSH Director"').send(`Not authorized: '${req.url}'\n`);
    }
  });
  app.addHook('preHandler', async (req) => {
    const body = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : req.body ? JSON.stringify(req.body) : undefined;
    requests.push({ method: req.method, url: req.url, contentType: req.headers['content-type'], body });
  });

  app.get('/info', async (req) => ({
    name: 'fake',
    uuid: 'fake-uuid',
    version: '0.0.0 (fake)',
    user: req.headers.authorization === expected ? USER : null,
    cpi: 'dummy',
    user_authentication: { type: 'basic', options: {} },
    features: {},
  }));

  const log = (id: number) => {
    const task = tasks.get(id)!;
    return task.events.slice(0, Math.min(polls.get(id) ?? 0, task.events.length)).join('');
  };
  const taskJson = (task: FakeTask, state: string) => ({
    id: task.id,
    state,
    description: task.description ?? 'fake task',
    timestamp: null,
    started_at: 1_700_000_000,
    result: task.taskResult ?? null,
    user: USER,
    deployment: 'nginx',
    context_id: '',
  });

  app.get<{ Params: { id: string } }>('/tasks/:id', async (req, reply) => {
    const task = tasks.get(Number(req.params.id));
    if (!task) return reply.code(404).send({ code: 10000, description: 'Task not found' });
    const n = (polls.get(task.id) ?? 0) + 1;
    polls.set(task.id, n);
    return taskJson(task, task.states[Math.min(n - 1, task.states.length - 1)]);
  });

  app.get<{ Params: { id: string }; Querystring: { type?: string } }>('/tasks/:id/output', async (req, reply) => {
    const task = tasks.get(Number(req.params.id));
    if (!task) return reply.code(404).send({ code: 10000, description: 'Task not found' });
    const body = Buffer.from(req.query.type === 'result' ? (task.result ?? '') : log(task.id));
    const range = req.headers.range;
    if (!range) return body.length ? reply.code(200).send(body) : reply.code(204).send();
    const start = Number(/^bytes=(\d+)-$/.exec(range)?.[1] ?? 0);
    if (start >= body.length) {
      ranges.push({ range, status: 416 });
      return reply.code(416).header('Content-Range', `bytes */${body.length}`).send();
    }
    ranges.push({ range, status: 206 });
    return reply
      .code(206)
      .header('Content-Range', `bytes ${start}-${body.length - 1}/${body.length}`)
      .send(body.subarray(start));
  });

  // Task-creating routes are added after listen (per test), so they are looked up here.
  const redirects = new Map<string, number>();
  const answers = new Map<string, { body: unknown; status: number }>();
  app.setNotFoundHandler(async (req, reply) => {
    const answer = answers.get(`${req.method} ${req.url.split('?')[0]}`);
    if (answer) {
      if (Buffer.isBuffer(answer.body)) return reply.code(answer.status).header('Content-Type', 'application/x-gzip').send(answer.body);
      if (typeof answer.body === 'string') return reply.code(answer.status).header('Content-Type', 'text/plain').send(answer.body);
      return reply.code(answer.status).header('Content-Type', 'application/json').send(JSON.stringify(answer.body));
    }
    const id = redirects.get(`${req.method} ${req.url.split('?')[0]}`);
    if (id === undefined) return reply.code(404).send(`Endpoint '${req.url}' not found.`);
    // An absolute Location naming another host: the client must come back to this director.
    return reply.redirect(`https://director.invalid:1/tasks/${id}`, 302);
  });

  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;

  return {
    url: `https://127.0.0.1:${port}`,
    caPath,
    caPem: ca.certificate,
    app,
    ranges,
    requests,
    tasks,
    route(method, path, task) {
      tasks.set(task.id, task);
      redirects.set(`${method} ${path}`, task.id);
    },
    respond(method, path, body, status = 200) {
      answers.set(`${method} ${path}`, { body, status });
    },
    async close() {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const T0 = Date.UTC(2026, 10, 21, 12, 1, 2) / 1000;
export const event = (o: Record<string, unknown>) => JSON.stringify(o) + '\n';
