// run-errand <name>: one result line per errand instance (director-api §2.5); --download-logs
// fetches each instance's logs blob.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CliError } from '../context.js';
import { collectVar } from '../flags.js';
import type { Wrap } from '../main.js';

interface ErrandResult {
  instance: { group: string; id: string };
  errand_name: string;
  exit_code: number;
  stdout: string;
  stderr: string;
  logs?: { blobstore_id?: string; sha1?: string };
}

interface RunErrandFlags {
  keepAlive?: boolean;
  whenChanged?: boolean;
  downloadLogs?: boolean;
  logsDir: string;
  instance: string[];
}

export function registerErrandCommands(program: Command, wrap: Wrap): void {
  program
    .command('run-errand <name>')
    .description('run an errand of the deployment given with -d')
    .option('--keep-alive', 'keep the errand VM after the run')
    .option('--when-changed', 'run only when the errand changed since its last successful run')
    .option('--instance <group[/id]>', 'run on this instance (repeatable)', collectVar, [])
    .option('--download-logs', 'download the logs of every errand instance')
    .option('--logs-dir <path>', 'directory for --download-logs', '.')
    .action(
      wrap(async (ctx, name: string, opts: RunErrandFlags) => {
        const director = await ctx.director();
        const deployment = ctx.deployment();
        const instances = opts.instance.map((slug) => {
          const [group, id] = slug.split('/');
          if (!group) throw new CliError(`Expected instance '${slug}' to be <instance-group>[/<id>]`);
          return id ? { group, id } : { group };
        });
        const task = await director.startTask('POST', `/deployments/${encodeURIComponent(deployment)}/errands/${encodeURIComponent(name)}/runs`, {
          body: JSON.stringify({ 'keep-alive': !!opts.keepAlive, 'when-changed': !!opts.whenChanged, instances }),
          contentType: 'application/json',
        });
        const finished = await director.waitForTask(task, ctx.taskReporter());
        if (finished.state !== 'done') throw new CliError(`Expected task '${finished.id}' to succeed but state is '${finished.state}'`);
        const results = (await director.taskOutput(task.id, 'result'))
          .split('\n')
          .filter((l) => l.trim() !== '')
          .map((l) => JSON.parse(l) as ErrandResult);
        if (results.length === 0 && finished.result) ctx.ui.printLine(`Errand '${name}' ${finished.result}`);
        ctx.ui.printTable({
          content: 'errand(s)',
          header: ['Instance', 'Exit Code', 'Stdout', 'Stderr'],
          rows: results.map((r) => [`${r.instance.group}/${r.instance.id}`, String(r.exit_code), r.stdout.trimEnd(), r.stderr.trimEnd()]),
          transpose: true,
        });
        if (opts.downloadLogs) {
          mkdirSync(opts.logsDir, { recursive: true });
          for (const r of results) {
            if (!r.logs?.blobstore_id) continue;
            const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').replace(/\..*/, '');
            const path = resolve(opts.logsDir, `${deployment}.${name}.${r.instance.group}.${r.instance.id}-${stamp}.tgz`);
            ctx.ui.printLine(`Downloading resource '${r.logs.blobstore_id}' to '${path}'...`);
            await director.download(`/resources/${encodeURIComponent(r.logs.blobstore_id)}`, path);
          }
        }
        const failed = results.find((r) => r.exit_code !== 0);
        if (failed) throw new CliError(`Errand '${name}' completed with error (exit code ${failed.exit_code})`);
      }),
    );
}
