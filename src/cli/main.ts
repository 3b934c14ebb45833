// The `capstan` CLI: bosh's global flags and commands (one file per command group).
import { Command, CommanderError, Option } from 'commander';
import { CliContext, type GlobalOptions } from './context.js';
import { registerEnvironmentCommands } from './commands/environment.js';
import { registerStemcellCommands } from './commands/stemcells.js';
import { registerReleaseCommands } from './commands/releases.js';
import { registerConfigCommands } from './commands/configs.js';
import { registerDeploymentCommands } from './commands/deployments.js';
import { registerInstanceCommands } from './commands/instances.js';
import { registerTaskCommands } from './commands/tasks.js';
import { registerErrandCommands } from './commands/errands.js';
import { registerDirectorCommand } from './commands/director.js';
import { registerMonitorCommand } from './commands/monitor.js';
import { runAgent } from './commands/agent.js';

/** Runs one command; `run` receives a context built from the global flags. */
export type Action = (ctx: CliContext, ...args: any[]) => Promise<void>;
export type Wrap = (action: Action) => (...args: any[]) => Promise<void>;

export function buildProgram(onContext: (ctx: CliContext) => void = () => {}): Command {
  const program = new Command('capstan')
    .description('BOSH-compatible release engineering and deployment')
    .addOption(new Option('-e, --environment <url-or-alias>', 'director environment (URL or alias)'))
    .addOption(new Option('--ca-cert <path-or-pem>', 'director CA certificate'))
    .addOption(new Option('--client <name>', 'client (user) name'))
    .addOption(new Option('--client-secret <secret>', 'client secret (password)'))
    .addOption(new Option('-d, --deployment <name>', 'deployment name'))
    .addOption(new Option('--json', 'output as JSON'))
    .addOption(new Option('-n, --non-interactive', "don't ask for user input"))
    .showHelpAfterError()
    .exitOverride();

  // Every action gets a context from the global flags (wherever they were given).
  const wrap: Wrap =
    (action) =>
    async (...args: any[]) => {
      const command = args[args.length - 1] as Command;
      const ctx = new CliContext(command.optsWithGlobals() as GlobalOptions);
      onContext(ctx);
      await action(ctx, ...args);
    };

  registerEnvironmentCommands(program, wrap);
  registerStemcellCommands(program, wrap);
  registerReleaseCommands(program, wrap);
  registerConfigCommands(program, wrap);
  registerDeploymentCommands(program, wrap);
  registerInstanceCommands(program, wrap);
  registerTaskCommands(program, wrap);
  registerErrandCommands(program, wrap);
  registerDirectorCommand(program);
  registerMonitorCommand(program);
  program
    .command('agent')
    .description('run the Capstan agent (flags as bosh-agent: -P <platform> -C <agent.json> -b <base dir>)')
    .allowUnknownOption()
    .helpOption(false);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  // The agent takes bosh-agent's flags verbatim; hand them over before commander sees them.
  if (argv[0] === 'agent') {
    await runAgent(argv.slice(1));
    return 0;
  }
  let ctx: CliContext | undefined;
  const program = buildProgram((c) => (ctx = c));
  try {
    await program.parseAsync(argv, { from: 'user' });
    if (ctx && !commandPrintsItsOwnResult(program)) ctx.ui.printLine('Succeeded');
    ctx?.ui.flush();
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    const ui = ctx?.ui;
    const message = err instanceof Error ? err.message : String(err);
    if (ui) {
      ui.errorLine(message);
      ui.errorLine('Exit code 1');
      ui.flush();
    } else {
      process.stderr.write(`${message}\n\nExit code 1\n`);
    }
    if (process.env.CAPSTAN_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return 1;
  } finally {
    ctx?.close();
  }
}

// Commands whose output is data for other programs (paths, exports) do not end with "Succeeded".
const QUIET = new Set(['env', 'stemcell', 'director', 'monitor']);
function commandPrintsItsOwnResult(program: Command): boolean {
  const name = (program.args[0] ?? '') as string;
  return QUIET.has(name);
}

const isEntry = process.argv[1] !== undefined && /src[\/\\]cli[\/\\]main\.ts$/.test(process.argv[1]);
if (isEntry) {
  // `capstan ... | head`: a closed stdout ends the program quietly, as with any Unix tool.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
