// Task output storage: event and result streams are DB columns appended to (director-api.md §4.2);
// the debug stream is a file under <base_dir>/tasks/<id>/.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { sql, type Kysely } from 'kysely';
import { createLogger, type Logger } from '../../common/logging.js';
import type { Database } from '../db/schema.js';

export type OutputColumn = 'event_output' | 'result_output';

export async function appendOutput(db: Kysely<Database>, taskId: number, column: OutputColumn, text: string): Promise<void> {
  // `||` concatenates text in both SQLite and PostgreSQL, so the append is one statement, no read-modify-write.
  await db
    .updateTable('tasks')
    .set({ [column]: sql`${sql.ref(column)} || ${text}` } as never)
    .where('id', '=', taskId)
    .execute();
}

export function taskOutputDir(baseDir: string, taskId: number): string {
  return join(baseDir, 'tasks', String(taskId));
}

export function debugLogPath(baseDir: string, taskId: number): string {
  return join(taskOutputDir(baseDir, taskId), 'debug');
}

/** A logger writing to the task's debug file (synchronously, so the API can serve it at once). */
export function openDebugLog(baseDir: string, taskId: number): { log: Logger; close(): void } {
  mkdirSync(taskOutputDir(baseDir, taskId), { recursive: true });
  const destination = pino.destination({ dest: debugLogPath(baseDir, taskId), sync: true, append: true });
  return {
    log: createLogger(`task:${taskId}`, destination, process.env.CAPSTAN_LOG_LEVEL ?? 'debug'),
    close: () => destination.end(),
  };
}

/**
 * Serializes appends to one task's output column: callers (EventStep.status) are synchronous, and
 * event lines must land in the order they were emitted.
 */
export class OutputAppender {
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly taskId: number,
    private readonly column: OutputColumn,
    private readonly log: Logger,
  ) {}

  append(text: string): Promise<void> {
    const next = this.chain.then(() => appendOutput(this.db, this.taskId, this.column, text));
    this.chain = next.catch((err) => this.log.error({ err }, `Appending to ${this.column} failed`));
    return next;
  }

  /** Resolves once every append so far has been written. */
  flush(): Promise<void> {
    return this.chain;
  }
}
