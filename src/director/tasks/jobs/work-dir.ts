// A scratch directory under <base_dir>/tmp for one task, removed when the task ends either way.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Director, EventLog } from '../../context.js';

export async function withWorkDir<T>(director: Director, prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const tmp = join(director.config.base_dir, 'tmp');
  await mkdir(tmp, { recursive: true });
  const dir = await mkdtemp(join(tmp, `${prefix}-`));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One-step stage: the common shape of the upload flows' events (director-api.md §6.5). */
export function singleStep<T>(events: EventLog, stage: string, task: string, fn: () => Promise<T>): Promise<T> {
  return events.beginStage(stage, 1).track(task, fn);
}
