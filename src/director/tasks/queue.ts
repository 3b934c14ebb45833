// The durable task queue: tasks are rows; the API enqueues, the worker (worker.ts) runs them.
import { EventEmitter } from 'node:events';
import type { Kysely, Selectable } from 'kysely';
import type { Database, TasksTable } from '../db/schema.js';
import { nowSeconds } from '../db/index.js';
import { openDebugLog } from './output.js';

export type TaskRow = Selectable<TasksTable>;

export const ACTIVE_STATES = ['queued', 'processing', 'cancelling'];

export interface NewTask {
  type: string;
  description: string;
  username: string;
  deploymentName?: string | null;
  contextId?: string;
  payload: unknown;
}

export const DIRECTOR_VERSION = '0.1.0 (capstan)';

const TASK_TIMEOUT_SECONDS = 6 * 30;

export class TaskQueue {
  private readonly events = new EventEmitter();

  constructor(
    readonly db: Kysely<Database>,
    readonly baseDir: string,
  ) {}

  async enqueue(task: NewTask): Promise<TaskRow> {
    const now = nowSeconds();
    const row = await this.db
      .insertInto('tasks')
      .values({
        state: 'queued',
        type: task.type,
        description: task.description,
        result: null,
        timestamp: now,
        started_at: null,
        checkpoint_time: now,
        username: task.username,
        deployment_name: task.deploymentName ?? null,
        context_id: task.contextId ?? '',
        payload_json: JSON.stringify(task.payload ?? {}),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    const debug = openDebugLog(this.baseDir, row.id);
    debug.log.info(`Director Version: ${DIRECTOR_VERSION}`);
    debug.log.info(`Enqueuing task: ${row.id}`);
    debug.close();
    this.events.emit('enqueued', row.id);
    return row;
  }

  /** The worker listens here so a new task starts without waiting for the next poll. */
  onEnqueued(listener: (taskId: number) => void): () => void {
    this.events.on('enqueued', listener);
    return () => this.events.off('enqueued', listener);
  }

  /**
   * A running task whose checkpoint is long overdue has lost its worker (director-api.md §4.1): it is
   * shown as `timeout`. The worker bumps checkpoint_time every 30 s, so this needs 6 missed beats.
   */
  async markTimedOut(): Promise<void> {
    await this.db
      .updateTable('tasks')
      .set({ state: 'timeout', timestamp: nowSeconds() })
      .where('state', 'in', ['processing', 'cancelling'])
      .where('checkpoint_time', '<', nowSeconds() - TASK_TIMEOUT_SECONDS)
      .execute();
  }

  async find(id: number): Promise<TaskRow | undefined> {
    return this.db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /**
   * Queued tasks are cancelled at once; processing ones become `cancelling` and stop at their next
   * checkpoint. Returns false when the task is not cancellable.
   */
  async cancel(id: number): Promise<boolean> {
    const queued = await this.db
      .updateTable('tasks')
      .set({ state: 'cancelled', result: 'task cancelled', timestamp: nowSeconds() })
      .where('id', '=', id)
      .where('state', '=', 'queued')
      .executeTakeFirst();
    if (Number(queued.numUpdatedRows) > 0) return true;
    const processing = await this.db
      .updateTable('tasks')
      .set({ state: 'cancelling' })
      .where('id', '=', id)
      .where('state', '=', 'processing')
      .executeTakeFirst();
    return Number(processing.numUpdatedRows) > 0;
  }
}

/** The task object of the API (director-api.md §3.1). */
export function taskView(task: TaskRow) {
  const finished = !ACTIVE_STATES.includes(task.state);
  return {
    id: task.id,
    state: task.state,
    description: task.description,
    timestamp: finished ? task.timestamp : null,
    started_at: task.started_at,
    result: task.result,
    user: task.username || 'admin',
    deployment: task.deployment_name,
    context_id: task.context_id,
  };
}

/** Error results are stripped and cut at a word boundary near 128 characters (director-api.md §4.1). */
export function truncateErrorResult(message: string, limit = 128): string {
  const text = message.trim();
  if (text.length <= limit) return text;
  const cut = text.slice(0, limit);
  const boundary = cut.search(/\s\S*$/);
  return `${(boundary > 0 ? cut.slice(0, boundary) : cut).trimEnd()}...`;
}
