import type { Action } from './action.js';

/** api_version 1: any job of an instance group may be an errand (§1.6). */
export class InfoAction implements Action {
  readonly name = 'info';
  readonly isAsynchronous = false;
  readonly requiredArgs = 0;

  async run(): Promise<{ api_version: number }> {
    return { api_version: 1 };
  }
}
