import type { TaskManager } from '../mbus/task-manager.js';
import { stringArg, type Action } from './action.js';

/** Running -> the handle again; done -> the bare result; failed -> an exception (§1.5). */
export class GetTaskAction implements Action {
  readonly name = 'get_task';
  readonly isAsynchronous = false;
  readonly requiredArgs = 1;

  constructor(private readonly tasks: TaskManager) {}

  async run(args: unknown[]): Promise<unknown> {
    const id = stringArg(args, 0);
    const task = this.tasks.get(id);
    if (!task) throw new Error(`Task with id ${id} could not be found`);
    if (task.state === 'running') return { agent_task_id: task.id, state: 'running' };
    if (task.state === 'failed') throw new Error(`Task ${task.id} result: ${task.error?.message ?? 'unknown error'}`);
    return task.value;
  }
}
