import type { AgentServices } from '../services.js';
import type { Action, ActionContext } from './action.js';

/** Protocol >= 3 stops and waits until monit has stopped everything (§2.5). */
export class StopAction implements Action {
  readonly name = 'stop';
  readonly isAsynchronous = true;
  readonly requiredArgs = 0;

  constructor(private readonly services: AgentServices) {}

  async run(_args: unknown[], context: ActionContext): Promise<string> {
    if (context.protocol >= 3) await this.services.supervisor.stopAndWait();
    else await this.services.supervisor.stop();
    return 'stopped';
  }
}
