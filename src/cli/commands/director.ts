// `capstan director -c <config.json>`: the director process (started by `capstan up`).
// SIGTERM/SIGINT close it cleanly (API, blob server, task worker, DB) before exiting.
import type { Command } from 'commander';
import { closeOnSignals } from './lifecycle.js';

export function registerDirectorCommand(program: Command): void {
  program
    .command('director')
    .description('run the director')
    .requiredOption('-c, --config <path>', 'director config (JSON)')
    .option('--database <url>', "DB instead of the config's: postgres://user:pass@host/db, or a SQLite file")
    .action(async (opts: { config: string; database?: string }) => {
      const { loadDirectorConfig } = await import('../../director/config.js');
      const { startDirector } = await import('../../director/server.js');
      const { parseDatabase } = await import('../../environment/director-config.js');
      const config = loadDirectorConfig(opts.config);
      const running = await startDirector(opts.database ? { ...config, db: parseDatabase(opts.database) } : config);
      closeOnSignals(running);
    });
}
