import { rm } from 'node:fs/promises';
import { stringArg, type Action } from './action.js';

/** Recursive delete of the given path; answers the path. */
export class RemoveFileAction implements Action {
  readonly name = 'remove_file';
  readonly isAsynchronous = false;
  readonly requiredArgs = 1;

  async run(args: unknown[]): Promise<string> {
    const path = stringArg(args, 0);
    await rm(path, { recursive: true, force: true });
    return path;
  }
}
