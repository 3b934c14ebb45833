// `capstan director -c <config.json>`: the director process (started by `capstan up`).
// SIGTERM/SIGINT close it cleanly (API, blob server, task worker, DB) before exiting.
import type { Command } from 'commander';
import { closeOnSignals } from './lifecycle.js';

export function registerDirectorCommand(program: Command): void {
  program
    .command('director')
    .description('run the director')
    .requiredOption('-c, --config <path>', 'director config (JSON)')
    .action(async (opts: { config: string }) => {
      const { loadDirectorConfig } = await import('../../director/config.js');
      const { startDirector } = await import('../../director/server.js');
      const running = await startDirector(loadDirectorConfig(opts.config));
      closeOnSignals(running);
    });
}
