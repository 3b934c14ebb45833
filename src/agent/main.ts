// capstan-agent entry: `capstan-agent -P ubuntu|dummy -C <agent.json> [-b /var/vcap]`.
// No top-level await: the bundle is CommonJS for Node 18.
import { parseArgs } from 'node:util';
import { createLogger } from '../common/logging.js';
import { startAgent, type AgentPlatform } from './agent.js';

function parseFlags(argv: string[]): { platform: AgentPlatform; configPath: string; baseDir: string } {
  const { values } = parseArgs({
    args: argv,
    options: {
      P: { type: 'string', short: 'P', default: 'ubuntu' },
      C: { type: 'string', short: 'C', default: '/var/vcap/bosh/agent.json' },
      b: { type: 'string', short: 'b', default: '/var/vcap' },
    },
    allowPositionals: false,
  });
  const platform = values.P as string;
  if (platform !== 'ubuntu' && platform !== 'dummy') throw new Error(`Unsupported platform '${platform}' (ubuntu|dummy)`);
  return { platform, configPath: values.C as string, baseDir: values.b as string };
}

function main(): void {
  const logger = createLogger('agent');
  let flags: ReturnType<typeof parseFlags>;
  try {
    flags = parseFlags(process.argv.slice(2));
  } catch (err) {
    logger.fatal({ err: (err as Error).message }, 'Invalid command line');
    process.exit(2);
  }
  startAgent({ ...flags, logger }).then(
    (agent) => {
      let stopping = false;
      const shutdown = (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'Stopping agent');
        agent.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
    },
    (err: Error) => {
      logger.fatal({ err: err.message }, 'Agent failed to start');
      // Give pino a moment to flush before the supervisor (runit) restarts us.
      setTimeout(() => process.exit(1), 100);
    },
  );
}

main();
