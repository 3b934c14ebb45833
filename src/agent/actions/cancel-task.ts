import type { TaskManager } from '../mbus/task-manager.js';
import { stringArg, type Action } from './action.js';

/** Only drain and run_errand can be cancelled; finished tasks answer "canceled" (§1.5). */
export class CancelTaskAction implements Action {
  readonly name = 'cancel_task';
  readonly isAsynchronous = false;
  readonly requiredArgs = 1;

  constructor(private readonly tasks: TaskManager) {}

  async run(args: unknown[]): Promise<string> {
    const id = stringArg(args, 0);
    const task = this.tasks.get(id);
    if (!task) throw new Error(`Task with id ${id} could not be found`);
    if (task.state === 'running') {
      if (!task.action.cancel) throw new Error('not supported');
      await task.action.cancel();
    }
    return 'canceled';
  }
}
