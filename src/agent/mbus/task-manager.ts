// Async tasks (agent-protocol.md §1.5): one background worker runs tasks one at a time, FIFO, with
// 5 queue slots; finished tasks stay in memory until the agent restarts. Persistent tasks
// (update_settings) are recorded in tasks.json until they finish and resumed after a restart.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Action } from '../actions/action.js';
import type { Logger } from '../../common/logging.js';
import { writeFileAtomic } from '../platform/layout.js';

export type TaskState = 'running' | 'done' | 'failed';

export interface Task {
  id: string;
  method: string;
  state: TaskState;
  value?: unknown;
  error?: Error;
  action: Action;
}

/** A tasks.json entry; Go field names, Payload = base64 of the original request body. */
export interface PersistedTask {
  TaskID: string;
  Method: string;
  Payload: string;
}

/** Queued tasks beyond this block the caller (the message handler) until the worker takes one. */
export const TASK_QUEUE_SLOTS = 5;

export class TaskStore {
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly path: string) {}

  async all(): Promise<PersistedTask[]> {
    return Object.values(await this.read());
  }

  add(task: PersistedTask): Promise<void> {
    return this.update((tasks) => void (tasks[task.TaskID] = task));
  }

  remove(id: string): Promise<void> {
    return this.update((tasks) => void delete tasks[id]);
  }

  private async read(): Promise<Record<string, PersistedTask>> {
    const text = await readFile(this.path, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return '{}';
      throw err;
    });
    return text.trim() ? (JSON.parse(text) as Record<string, PersistedTask>) : {};
  }

  /** Read-modify-write, serialized so concurrent updates do not lose entries. */
  private update(change: (tasks: Record<string, PersistedTask>) => void): Promise<void> {
    const next = this.chain.then(async () => {
      const tasks = await this.read();
      change(tasks);
      await writeFileAtomic(this.path, JSON.stringify(tasks), 0o600);
    });
    this.chain = next.catch(() => undefined);
    return next;
  }
}

export class TaskManager {
  private readonly tasks = new Map<string, Task>();
  private tail: Promise<void> = Promise.resolve();
  private queued = 0;
  private slotWaiters: Array<() => void> = [];

  constructor(
    private readonly logger?: Logger,
    private readonly store?: TaskStore,
  ) {}

  /** Queues `run` behind every earlier task and returns the task (state `running` until it ends). */
  start(action: Action, run: () => Promise<unknown>, id: string = randomUUID(), onFinish?: () => Promise<void>): Task {
    const task: Task = { id, method: action.name, state: 'running', action };
    this.tasks.set(id, task);
    this.queued++;
    this.tail = this.tail.then(async () => {
      this.queued--;
      this.slotWaiters.shift()?.();
      await this.execute(task, run);
      await onFinish?.().catch((err: Error) => this.logger?.error({ task: id, err: err.message }, 'Removing persistent task'));
    });
    return task;
  }

  /** Like start, but the task is written to tasks.json first and removed when it finishes. */
  async startPersistent(action: Action, run: () => Promise<unknown>, payload: Uint8Array | string): Promise<Task> {
    if (!this.store) return this.start(action, run);
    const id = randomUUID();
    await this.store.add({ TaskID: id, Method: action.name, Payload: Buffer.from(payload).toString('base64') });
    return this.start(action, run, id, () => this.store!.remove(id));
  }

  /** Resumes the tasks a previous agent process left in tasks.json, under their old ids (§1.5). */
  async resumePersisted(create: (method: string) => Action | undefined): Promise<number> {
    if (!this.store) return 0;
    let resumed = 0;
    for (const entry of await this.store.all()) {
      const action = create(entry.Method);
      if (!action?.resume) {
        this.logger?.warn({ task: entry.TaskID, method: entry.Method }, 'Dropping persisted task of an unknown method');
        await this.store.remove(entry.TaskID);
        continue;
      }
      this.logger?.info({ task: entry.TaskID, method: entry.Method }, 'Resuming persisted task');
      this.start(action, () => action.resume!(), entry.TaskID, () => this.store!.remove(entry.TaskID));
      resumed++;
    }
    return resumed;
  }

  /** Resolves once the queue has a free slot (the caller then starts its task). */
  async waitForSlot(): Promise<void> {
    while (this.queued >= TASK_QUEUE_SLOTS) await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
  }

  get(id: string): Task | undefined {
    return this.tasks.get(id);
  }

  /** Resolves when every queued task has finished (tests, shutdown). */
  async idle(): Promise<void> {
    let tail: Promise<void>;
    do {
      tail = this.tail;
      await tail;
    } while (tail !== this.tail);
  }

  private async execute(task: Task, run: () => Promise<unknown>): Promise<void> {
    this.logger?.info({ task: task.id, method: task.method }, 'Task started');
    try {
      task.value = await run();
      task.state = 'done';
    } catch (err) {
      task.error = err instanceof Error ? err : new Error(String(err));
      task.state = 'failed';
      this.logger?.warn({ task: task.id, method: task.method, err: task.error.message }, 'Task failed');
    }
  }
}
