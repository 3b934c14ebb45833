import type { ApplySpec } from '../../common/protocol.js';
import type { AgentServices } from '../services.js';
import { objectArg, type Action } from './action.js';

export class PrepareAction implements Action {
  readonly name = 'prepare';
  readonly isAsynchronous = true;
  readonly requiredArgs = 1;

  constructor(private readonly services: AgentServices) {}

  async run(args: unknown[]): Promise<string> {
    await this.services.applier.prepare(objectArg<ApplySpec>(args, 0, 'applyspec.V1ApplySpec'));
    return 'prepared';
  }
}
