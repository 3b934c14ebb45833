// run-errand <name> [--keep-alive]: one result line per errand instance (director-api §2.5).
import type { Command } from 'commander';
import { CliError } from '../context.js';
import type { Wrap } from '../main.js';

interface ErrandResult {
  instance: { group: string; id: string };
  errand_name: string;
  exit_code: number;
  stdout: string;
  stderr: string;
}

export function registerErrandCommands(program: Command, wrap: Wrap): void {
  program
    .command('run-errand <name>')
    .description('run an errand of the deployment given with -d')
    .option('--keep-alive', 'keep the errand VM after the run')
    .option('--when-changed', 'run only when the errand changed since its last successful run')
    .action(
      wrap(async (ctx, name: string, opts: { keepAlive?: boolean; whenChanged?: boolean }) => {
        const director = await ctx.director();
        const deployment = ctx.deployment();
        const task = await director.startTask('POST', `/deployments/${encodeURIComponent(deployment)}/errands/${encodeURIComponent(name)}/runs`, {
          body: JSON.stringify({ 'keep-alive': !!opts.keepAlive, 'when-changed': !!opts.whenChanged, instances: [] }),
          contentType: 'application/json',
        });
        const finished = await director.waitForTask(task, ctx.taskReporter());
        if (finished.state !== 'done') throw new CliError(`Expected task '${finished.id}' to succeed but state is '${finished.state}'`);
        const results = (await director.taskOutput(task.id, 'result'))
          .split('\n')
          .filter((l) => l.trim() !== '')
          .map((l) => JSON.parse(l) as ErrandResult);
        ctx.ui.printTable({
          content: 'errand(s)',
          header: ['Instance', 'Exit Code', 'Stdout', 'Stderr'],
          rows: results.map((r) => [`${r.instance.group}/${r.instance.id}`, String(r.exit_code), r.stdout.trimEnd(), r.stderr.trimEnd()]),
          transpose: true,
        });
        const failed = results.find((r) => r.exit_code !== 0);
        if (failed) throw new CliError(`Errand '${name}' completed with error (exit code ${failed.exit_code})`);
      }),
    );
}
