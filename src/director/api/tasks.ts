// Tasks: list, show, output streams with Range (director-api.md §2.2, §4.2), cancel.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { badRequest, notFound } from '../../common/errors.js';
import { positiveInt, type ApiContext } from './helpers.js';
import { taskOutputDir } from '../tasks/output.js';
import { taskView, type TaskRow } from '../tasks/queue.js';

/** What `verbose=1` (the default) lists; `verbose=2` lists every type. */
const VERBOSE_1_TYPES = [
  'attach_disk', 'create_snapshot', 'delete_deployment', 'delete_release', 'delete_snapshot', 'delete_stemcell',
  'run_errand', 'snapshot_deployment', 'update_instance', 'update_deployment', 'update_release', 'update_stemcell',
  'export_release',
];

interface ListQuery {
  state?: string;
  limit?: string;
  verbose?: string;
  deployment?: string;
  context_id?: string;
}

export async function taskRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { db } = ctx.director;

  app.get<{ Querystring: ListQuery }>('/tasks', async (request) => {
    const { state, verbose, deployment, context_id } = request.query;
    const limit = positiveInt(request.query.limit, 'limit');
    await ctx.queue.markTimedOut();
    let query = db.selectFrom('tasks').selectAll().orderBy('id', 'desc');
    if (state) query = query.where('state', 'in', state.split(','));
    if ((verbose ?? '1') !== '2') query = query.where('type', 'in', VERBOSE_1_TYPES);
    if (deployment) query = query.where('deployment_name', '=', deployment);
    if (context_id) query = query.where('context_id', '=', context_id);
    if (limit !== undefined) query = query.limit(limit);
    return (await query.execute()).map(taskView);
  });

  app.get<{ Params: { id: string } }>('/tasks/:id', async (request) => taskView(await findTask(ctx, request.params.id)));

  app.get<{ Params: { id: string }; Querystring: { type?: string } }>('/tasks/:id/output', async (request, reply) => {
    const task = await findTask(ctx, request.params.id);
    const output = await readOutput(ctx, task, request.query.type ?? 'debug');
    return sendOutput(reply, output, request.headers.range);
  });

  // Cancels every matching task (default: the queued ones), as `bosh cancel-tasks` asks.
  app.post<{ Body: { deployment?: unknown; states?: unknown; types?: unknown } | undefined }>('/tasks/cancel', async (request, reply) => {
    const body = request.body ?? {};
    const states = stringList(body.states, 'states') ?? ['queued'];
    const types = stringList(body.types, 'types');
    for (const state of states) if (!['queued', 'processing'].includes(state)) throw badRequest(`Invalid task state '${state}': only queued and processing tasks can be cancelled`);
    let query = db.selectFrom('tasks').select('id').where('state', 'in', states);
    if (typeof body.deployment === 'string' && body.deployment !== '') query = query.where('deployment_name', '=', body.deployment);
    if (types) query = query.where('type', 'in', types);
    for (const { id } of await query.execute()) await ctx.queue.cancel(id);
    return reply.code(204).send();
  });

  app.delete<{ Params: { id: string } }>('/task/:id', async (request, reply) => {
    const task = await findTask(ctx, request.params.id);
    if (!(await ctx.queue.cancel(task.id))) {
      return reply.code(400).type('text/plain').send(`Cannot cancel task ${task.id}: invalid state (${task.state})`);
    }
    return reply.code(204).send();
  });
}

function stringList(value: unknown, name: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw badRequest(`'${name}' must be a list of strings`);
  return value.length ? value : undefined;
}

async function findTask(ctx: ApiContext, idText: string): Promise<TaskRow> {
  const id = Number(idText);
  await ctx.queue.markTimedOut();
  const task = Number.isInteger(id) ? await ctx.queue.find(id) : undefined;
  if (!task) throw notFound(`Task ${idText} not found`, 10000);
  return task;
}

/** Output as bytes in the DB, or as a file to stream (the debug log can be large). */
type Output = { kind: 'bytes'; data: Buffer } | { kind: 'file'; path: string; size: number };

async function readOutput(ctx: ApiContext, task: TaskRow, type: string): Promise<Output> {
  switch (type) {
    case 'event':
      return { kind: 'bytes', data: Buffer.from(task.event_output, 'utf8') };
    case 'result':
      return { kind: 'bytes', data: Buffer.from(task.result_output, 'utf8') };
    case 'debug':
    case 'cpi': {
      const path = join(taskOutputDir(ctx.director.config.base_dir, task.id), type);
      const size = await stat(path).then((s) => s.size, () => 0);
      return { kind: 'file', path, size };
    }
    case 'none':
      return { kind: 'bytes', data: Buffer.alloc(0) };
    default:
      throw badRequest(`Invalid task output type '${type}'`);
  }
}

/** 204 when empty; 200 without Range; 206 from offset N; 416 when N is at or past the end. */
function sendOutput(reply: FastifyReply, output: Output, range: string | undefined): FastifyReply {
  const size = output.kind === 'bytes' ? output.data.length : output.size;
  reply.type('text/plain');
  if (size === 0) return reply.code(204).send();
  if (range === undefined) return reply.code(200).header('Content-Length', size).send(body(output, 0, size));
  const start = parseRangeStart(range);
  if (start >= size) return reply.code(416).header('Content-Range', `bytes */${size}`).send();
  return reply
    .code(206)
    .header('Content-Range', `bytes ${start}-${size - 1}/${size}`)
    .header('Content-Length', size - start)
    .send(body(output, start, size));
}

function body(output: Output, start: number, end: number) {
  // Files are read only up to the size seen now, so Content-Length stays true while the log grows.
  return output.kind === 'bytes' ? output.data.subarray(start, end) : createReadStream(output.path, { start, end: end - 1 });
}

/** `bytes=N-` (an end, if given, is ignored: the CLI only asks for the rest of the stream). */
function parseRangeStart(range: string): number {
  const match = /^bytes=(\d+)-(\d*)$/.exec(range.trim());
  if (!match) throw badRequest(`Invalid Range header '${range}'`);
  return Number(match[1]);
}
