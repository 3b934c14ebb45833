// `capstan monitor -c <config>`: the health monitor process (config: YAML or JSON, see
// src/monitor/config.ts). SIGTERM/SIGINT stop it cleanly (plugins flushed, NATS drained).
import type { Command } from 'commander';

export function registerMonitorCommand(program: Command): void {
  program
    .command('monitor')
    .description('run the health monitor')
    .requiredOption('-c, --config <path>', 'health monitor config (YAML or JSON)')
    .action(async (opts: { config: string }) => {
      const { loadMonitorConfig } = await import('../../monitor/config.js');
      const { startMonitor } = await import('../../monitor/monitor.js');
      const running = await startMonitor(loadMonitorConfig(opts.config));
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        running.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
}
