// capstan-agent entry: `capstan-agent -P ubuntu|dummy -C <agent.json> [-b /var/vcap] [-M monit|dummy|dummy-nats]`.
// No top-level await: the bundle is CommonJS for Node 18.
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { createLogger, type Logger } from '../common/logging.js';
import { startAgent, type AgentPlatform, type JobSupervisorKind } from './agent.js';
import { SvlogdFile } from './agent-log.js';

interface Flags {
  platform: AgentPlatform;
  configPath: string;
  baseDir: string;
  supervisor: JobSupervisorKind;
}

const SUPERVISORS: JobSupervisorKind[] = ['monit', 'dummy', 'dummy-nats'];

function parseFlags(argv: string[]): Flags {
  const { values } = parseArgs({
    args: argv,
    options: {
      P: { type: 'string', short: 'P', default: 'ubuntu' },
      C: { type: 'string', short: 'C', default: '/var/vcap/bosh/agent.json' },
      b: { type: 'string', short: 'b', default: '/var/vcap' },
      M: { type: 'string', short: 'M', default: 'monit' },
    },
    allowPositionals: false,
  });
  const platform = values.P as string;
  if (platform !== 'ubuntu' && platform !== 'dummy') throw new Error(`Unsupported platform '${platform}' (ubuntu|dummy)`);
  const supervisor = values.M as JobSupervisorKind;
  if (!SUPERVISORS.includes(supervisor)) throw new Error(`Unsupported job supervisor '${supervisor}' (${SUPERVISORS.join('|')})`);
  return { platform, configPath: values.C as string, baseDir: values.b as string, supervisor };
}

/**
 * On the stemcell runit's svlogd (-tt) already turns stderr into /var/vcap/bosh/log/current; on the
 * dummy platform nothing does, so the agent writes that file itself, in the same format.
 */
function agentLogger(flags: Flags): Logger {
  if (flags.platform !== 'dummy') return createLogger('agent');
  try {
    return createLogger('agent', new SvlogdFile(join(flags.baseDir, 'bosh', 'log'), process.stderr) as never);
  } catch {
    return createLogger('agent');
  }
}

function main(): void {
  let flags: Flags;
  try {
    flags = parseFlags(process.argv.slice(2));
  } catch (err) {
    createLogger('agent').fatal({ err: (err as Error).message }, 'Invalid command line');
    process.exit(2);
  }
  const logger = agentLogger(flags);
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
