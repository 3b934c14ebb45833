// `capstan monitor -c <config>`: the health monitor process (config: YAML or JSON, see
// src/monitor/config.ts). SIGTERM/SIGINT stop it cleanly (plugins flushed, NATS drained).
import type { Command } from 'commander';
import { closeOnSignals } from './lifecycle.js';

export function registerMonitorCommand(program: Command): void {
  program
    .command('monitor')
    .description('run the health monitor')
    .requiredOption('-c, --config <path>', 'health monitor config (YAML or JSON)')
    .action(async (opts: { config: string }) => {
      const { loadMonitorConfig } = await import('../../monitor/config.js');
      const { startMonitor } = await import('../../monitor/monitor.js');
      const running = await startMonitor(loadMonitorConfig(opts.config));
      closeOnSignals(running);
    });
}
