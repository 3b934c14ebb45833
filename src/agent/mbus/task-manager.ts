// Async tasks (agent-protocol.md §1.5): one background worker runs tasks one at a time, FIFO;
// finished tasks stay in memory until the agent restarts.
import { randomUUID } from 'node:crypto';
import type { Action } from '../actions/action.js';
import type { Logger } from '../../common/logging.js';

export type TaskState = 'running' | 'done' | 'failed';

export interface Task {
  id: string;
  method: string;
  state: TaskState;
  value?: unknown;
  error?: Error;
  action: Action;
}

export class TaskManager {
  private readonly tasks = new Map<string, Task>();
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly logger?: Logger) {}

  /** Queues `run` behind every earlier task and returns the task (state `running` until it ends). */
  start(action: Action, run: () => Promise<unknown>, id: string = randomUUID()): Task {
    const task: Task = { id, method: action.name, state: 'running', action };
    this.tasks.set(id, task);
    this.tail = this.tail.then(() => this.execute(task, run));
    return task;
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
