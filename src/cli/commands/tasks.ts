// task [id] (events, or --debug/--result/--event/--cpi raw output), tasks [--recent [n]].
import type { Command } from 'commander';
import { CliError } from '../context.js';
import { TaskError, type Task } from '../director-client.js';
import type { Wrap } from '../main.js';

export function registerTaskCommands(program: Command, wrap: Wrap): void {
  program
    .command('task [id]')
    .alias('t')
    .description('show a task (default: the most recent running one) and follow it until it ends')
    .option('--event', 'raw event output')
    .option('--debug', 'debug output')
    .option('--result', 'result output')
    .option('--cpi', 'CPI output')
    .action(
      wrap(async (ctx, id: string | undefined, opts: { event?: boolean; debug?: boolean; result?: boolean; cpi?: boolean }) => {
        const director = await ctx.director();
        let task: Task;
        if (id === undefined) {
          const running = await director.getJson<Task[]>('/tasks', { state: 'processing,cancelling,queued', verbose: 2 });
          if (running.length === 0) throw new CliError('Expected at least one running task (give a task id)');
          task = running[0];
        } else {
          if (!/^\d+$/.test(id)) throw new CliError(`Expected task id to be a number but got '${id}'`);
          task = await director.getTask(Number(id));
        }
        const raw = opts.debug ? 'debug' : opts.result ? 'result' : opts.cpi ? 'cpi' : opts.event ? 'event' : undefined;
        const finished = await director.waitForTask(task, ctx.taskReporter(raw ? 'raw' : 'events'), raw ?? 'event');
        if (finished.state !== 'done') throw new TaskError(finished);
      }),
    );

  program
    .command('tasks')
    .alias('ts')
    .description('list running tasks, or recent ones with --recent')
    .option('-r, --recent [number]', 'number of recent tasks to show (default 30)')
    .option('-a, --all', 'include all task types (ssh, logs, vms, ...)')
    .action(
      wrap(async (ctx, opts: { recent?: string | boolean; all?: boolean }) => {
        const director = await ctx.director();
        const query: Record<string, string | number | undefined> = { verbose: opts.all ? 2 : 1, deployment: ctx.deploymentName };
        if (opts.recent !== undefined) query.limit = typeof opts.recent === 'string' ? Number(opts.recent) : 30;
        else query.state = 'processing,cancelling,queued';
        const tasks = await director.getJson<Task[]>('/tasks', query);
        const { tasksTable } = await import('../renderers/lists.js');
        ctx.ui.printTable(tasksTable(tasks));
      }),
    );
}
