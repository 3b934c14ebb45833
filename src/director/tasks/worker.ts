// The task worker inside the director process: picks queued tasks oldest first, runs several at once
// but only one per deployment (the deployment lock), and records how each one ended.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { nowSeconds } from '../db/index.js';
import { TaskCancelled, type Director, type TaskContext, type TaskJob } from '../context.js';
import type { Logger } from '../../common/logging.js';
import { errorMessage } from '../../common/errors.js';
import { TaskEventLog } from './events.js';
import { OutputAppender, appendOutput, openDebugLog, taskOutputDir } from './output.js';
import { cpiRegistry } from '../cpis.js';
import { truncateErrorResult, type TaskQueue, type TaskRow } from './queue.js';
import { deploymentLockName, releaseLock, renewLock, tryAcquireLock, type HeldLock } from './locks.js';

/** Task types that change a deployment and so hold its lock while they run. */
const DEPLOYMENT_LOCKING_TYPES = new Set([
  'update_deployment', 'delete_deployment', 'run_errand', 'update_instance', 'cck_scan', 'cck_apply', 'cck_scan_and_fix',
  'attach_disk',
]);

/**
 * Task types that take the deployment lock with a zero timeout (BOSH's scan_and_fix): when a deploy
 * holds it they fail at once with this message instead of waiting in the queue.
 */
const NO_WAIT_LOCK_ERRORS: Record<string, string> = {
  cck_scan_and_fix: 'Unable to get deployment lock, maybe a deployment is in progress. Try again later.',
};

const CHECKPOINT_INTERVAL_MS = 30_000;
export const INTERRUPTED_RESULT = 'Task was interrupted: the director stopped while it was running';

export interface TaskWorkerOptions {
  concurrency?: number;
  pollIntervalMs?: number;
  /** How long stop() waits for running tasks before giving up on them. */
  stopGraceMs?: number;
}

export class TaskWorker {
  private readonly running = new Map<number, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private picking: Promise<void> | undefined;
  private pickAgain = false;
  private stopped = false;

  constructor(
    private readonly director: Director,
    private readonly queue: TaskQueue,
    private readonly jobs: Record<string, TaskJob>,
    private readonly options: TaskWorkerOptions = {},
  ) {}

  start(): void {
    this.unsubscribe = this.queue.onEnqueued(() => this.wake());
    this.timer = setInterval(() => this.wake(), this.options.pollIntervalMs ?? 1000);
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.unsubscribe?.();
    await this.picking;
    const grace = new Promise<void>((resolve) => setTimeout(resolve, this.options.stopGraceMs ?? 5000).unref());
    await Promise.race([Promise.allSettled([...this.running.values()]), grace]);
  }

  /** Runs one pick pass; a wake during a pass schedules another pass right after it. */
  private wake(): void {
    if (this.stopped) return;
    if (this.picking) {
      this.pickAgain = true;
      return;
    }
    this.picking = this.pickTasks()
      .catch((err) => this.director.log.error({ err }, 'Picking tasks failed'))
      .finally(() => {
        this.picking = undefined;
        if (this.pickAgain) {
          this.pickAgain = false;
          this.wake();
        }
      });
  }

  private async pickTasks(): Promise<void> {
    const concurrency = this.options.concurrency ?? 3;
    if (this.running.size >= concurrency) return;
    const queued = await this.director.db.selectFrom('tasks').selectAll().where('state', '=', 'queued').orderBy('id').execute();
    for (const task of queued) {
      if (this.stopped || this.running.size >= concurrency) return;
      if (this.running.has(task.id)) continue;
      const lock = await this.takeLock(task);
      if (lock === false) {
        await this.refuseIfNoWait(task);
        continue;
      }
      if (!(await this.claim(task.id))) {
        if (lock) await releaseLock(this.director.db, lock);
        continue;
      }
      const run = this.run(task, lock).finally(() => {
        this.running.delete(task.id);
        this.wake(); // a lock or a slot became free
      });
      this.running.set(task.id, run);
    }
  }

  /** null: the task needs no lock; false: the lock is held by another task. */
  private async takeLock(task: TaskRow): Promise<HeldLock | null | false> {
    if (!task.deployment_name || !DEPLOYMENT_LOCKING_TYPES.has(task.type)) return null;
    return (await tryAcquireLock(this.director.db, deploymentLockName(task.deployment_name), task.id)) ?? false;
  }

  /** A no-wait task whose lock is held ends in `error` now, as if its job had thrown the lock error. */
  private async refuseIfNoWait(task: TaskRow): Promise<void> {
    const message = NO_WAIT_LOCK_ERRORS[task.type];
    if (!message || !(await this.claim(task.id))) return;
    await this.run(task, null, async () => {
      throw new Error(message);
    });
  }

  private async claim(taskId: number): Promise<boolean> {
    const now = nowSeconds();
    const result = await this.director.db
      .updateTable('tasks')
      .set({ state: 'processing', started_at: now, timestamp: now, checkpoint_time: now })
      .where('id', '=', taskId)
      .where('state', '=', 'queued')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  private async run(task: TaskRow, lock: HeldLock | null, job: TaskJob | undefined = this.jobs[task.type]): Promise<void> {
    const debug = openDebugLog(this.director.config.base_dir, task.id);
    const run = new TaskRun(this.director.db, task, lock, debug.log);
    const heartbeat = setInterval(() => void run.beat().catch((err) => debug.log.warn({ err }, 'Checkpoint failed')), CHECKPOINT_INTERVAL_MS);
    let outcome: { state: string; result: string };
    try {
      debug.log.info(`Starting task: ${task.id} (${task.type}: ${task.description})`);
      if (!job) throw new Error(`Unknown task type '${task.type}'`);
      outcome = { state: 'done', result: await job(withTaskCpiLog(this.director, task.id), run.context, JSON.parse(task.payload_json)) };
    } catch (err) {
      outcome = run.failed(err);
    } finally {
      clearInterval(heartbeat);
    }
    try {
      await run.finish(outcome.state, outcome.result);
    } catch (err) {
      this.director.log.error({ err, task_id: task.id }, 'Recording the end of a task failed');
    } finally {
      if (lock) await releaseLock(this.director.db, lock).catch((err) => this.director.log.error({ err }, 'Releasing a lock failed'));
      debug.close();
    }
  }
}

/** One running task: its outputs, its checkpoints, and the TaskContext its job sees. */
class TaskRun {
  readonly context: TaskContext;
  private readonly events: TaskEventLog;
  private readonly eventOutput: OutputAppender;
  private readonly resultOutput: OutputAppender;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly task: TaskRow,
    private readonly lock: HeldLock | null,
    private readonly debug: Logger,
  ) {
    this.eventOutput = new OutputAppender(db, task.id, 'event_output', debug);
    this.resultOutput = new OutputAppender(db, task.id, 'result_output', debug);
    this.events = new TaskEventLog((line) => void this.eventOutput.append(line).catch(() => undefined));
    this.context = {
      taskId: task.id,
      username: task.username,
      events: this.events,
      debug,
      appendResult: (line) => this.resultOutput.append(line.endsWith('\n') ? line : `${line}\n`),
      checkpoint: () => this.checkpoint(),
    };
  }

  /** Proof of life: keeps the task from looking timed out and its lock from expiring. */
  async beat(): Promise<void> {
    await this.db.updateTable('tasks').set({ checkpoint_time: nowSeconds() }).where('id', '=', this.task.id).execute();
    if (this.lock) await renewLock(this.db, this.lock);
  }

  private async checkpoint(): Promise<void> {
    await this.beat();
    const row = await this.db.selectFrom('tasks').select('state').where('id', '=', this.task.id).executeTakeFirst();
    if (row?.state === 'cancelling') throw new TaskCancelled();
  }

  failed(err: unknown): { state: string; result: string } {
    if (err instanceof TaskCancelled) return { state: 'cancelled', result: 'task cancelled' };
    this.events.error(err);
    this.debug.error({ err }, `Task ${this.task.id} failed`);
    return { state: 'error', result: truncateErrorResult(errorMessage(err)) };
  }

  /** Waits for every output line, then records the end state. */
  async finish(state: string, result: string): Promise<void> {
    await Promise.all([this.eventOutput.flush(), this.resultOutput.flush()]);
    await this.db.updateTable('tasks').set({ state, result, timestamp: nowSeconds() }).where('id', '=', this.task.id).execute();
    this.debug.info(`Task ${this.task.id} ${state}: ${result}`);
  }
}

/**
 * At director start: tasks a previous director process left running can never finish. They become
 * `error` and their locks are released, in one transaction so a crash here cannot leave half of it.
 */
export async function recoverInterruptedTasks(db: Kysely<Database>): Promise<number[]> {
  return db.transaction().execute(async (trx) => {
    const rows = await trx.selectFrom('tasks').select('id').where('state', 'in', ['processing', 'cancelling']).execute();
    const ids = rows.map((r) => r.id);
    const now = nowSeconds();
    if (ids.length > 0) {
      await trx.updateTable('tasks').set({ state: 'error', result: INTERRUPTED_RESULT, timestamp: now }).where('id', 'in', ids).execute();
      const line = `${JSON.stringify({ time: now, error: { code: 100, message: INTERRUPTED_RESULT } })}\n`;
      for (const id of ids) await appendOutput(trx, id, 'event_output', line);
    }
    // Every lock belongs to a running task, and no task runs before the worker starts.
    await trx.deleteFrom('locks').execute();
    return ids;
  });
}

/** The director as a task sees it: every CPI call lands in the task's `cpi` output (bosh task --cpi). */
function withTaskCpiLog(director: Director, taskId: number): Director {
  const path = join(taskOutputDir(director.config.base_dir, taskId), 'cpi');
  const sink = (text: string) => appendFileSync(path, text);
  const cpis = cpiRegistry(director).withCpiLog(sink);
  return { ...director, cpi: cpis.defaultCpi, cpis };
}
