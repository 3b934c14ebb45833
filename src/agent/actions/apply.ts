import type { ApplySpec } from '../../common/protocol.js';
import type { AgentServices } from '../services.js';
import { objectArg, type Action } from './action.js';

export class ApplyAction implements Action {
  readonly name = 'apply';
  readonly isAsynchronous = true;
  readonly requiredArgs = 1;

  constructor(private readonly services: AgentServices) {}

  async run(args: unknown[]): Promise<string> {
    await this.services.applier.apply(objectArg<ApplySpec>(args, 0, 'applyspec.V1ApplySpec'));
    return 'applied';
  }
}
