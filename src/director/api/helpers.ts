// Small pieces shared by the route files: task creation with the 302 answer, raw uploads, query flags.
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { badRequest } from '../../common/errors.js';
import type { Director } from '../context.js';
import type { NewTask, TaskQueue } from '../tasks/queue.js';

export interface ApiContext {
  director: Director;
  queue: TaskQueue;
}

/** Creates the task and answers like every async endpoint: 302 to /tasks/<id> (director-api.md §1.2). */
export async function enqueueTask(
  ctx: ApiContext,
  request: FastifyRequest,
  reply: FastifyReply,
  task: Omit<NewTask, 'username' | 'contextId'>,
): Promise<FastifyReply> {
  const row = await ctx.queue.enqueue({ ...task, username: request.user ?? 'admin', contextId: contextId(request) });
  return reply.code(302).header('Location', `/tasks/${row.id}`).send();
}

function contextId(request: FastifyRequest): string {
  const header = request.headers['x-bosh-context-id'];
  const value = Array.isArray(header) ? header[0] : header ?? '';
  if (value.length > 64) throw badRequest('X-Bosh-Context-Id cannot be more than 64 characters in length', 70010);
  return value;
}

/** Streams a raw upload body to a file under <base_dir>/tmp; the task that uses it deletes it. */
export async function saveUpload(director: Director, body: Readable, prefix: string): Promise<string> {
  const dir = join(director.config.base_dir, 'tmp');
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${prefix}-${randomUUID()}.tgz`);
  try {
    await pipeline(body, createWriteStream(path));
  } catch (err) {
    await rm(path, { force: true });
    throw err;
  }
  return path;
}

export function isRawUpload(request: FastifyRequest): boolean {
  return typeof (request.body as Readable | undefined)?.pipe === 'function';
}

export const flag = (value: unknown): boolean => value === 'true' || value === '1' || value === true;

export function positiveInt(value: unknown, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw badRequest(`Invalid '${name}': '${String(value)}'`);
  return n;
}
