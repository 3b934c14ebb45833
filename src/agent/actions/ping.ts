import type { Action } from './action.js';

export class PingAction implements Action {
  readonly name = 'ping';
  readonly isAsynchronous = false;
  readonly requiredArgs = 0;

  async run(): Promise<string> {
    return 'pong';
  }
}
