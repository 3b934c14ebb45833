// The `capstan` CLI: bosh's global flags and commands (one file per command group).
import { Command, CommanderError, Option } from 'commander';
import { CliContext, type GlobalOptions } from './context.js';
import { registerAliasCommands, registerEnvironmentCommands } from './commands/environment.js';
import { registerStemcellCommands } from './commands/stemcells.js';
import { registerReleaseCommands } from './commands/releases.js';
import { registerConfigCommands } from './commands/configs.js';
import { registerDeploymentCommands } from './commands/deployments.js';
import { registerInstanceCommands } from './commands/instances.js';
import { registerTaskCommands } from './commands/tasks.js';
import { registerErrandCommands } from './commands/errands.js';
import { registerDirectorCommand } from './commands/director.js';
import { registerInstanceStateCommands } from './commands/instance-state.js';
import { registerLogsSshCommands } from './commands/logs-ssh.js';
import { registerDirectorInfoCommands } from './commands/director-info.js';
import { registerReleaseDirCommands } from './commands/release-dir.js';
import { collectVar } from './flags.js';
import { registerMonitorCommand } from './commands/monitor.js';
import { runAgent } from './commands/agent.js';

// Defined by the bundle build (scripts/build-cli.mjs): package.json's version, and that this
// code runs from dist/capstan.mjs rather than from source.
declare const __CAPSTAN_VERSION__: string | undefined;
declare const __CAPSTAN_BUNDLE__: boolean | undefined;
const VERSION = typeof __CAPSTAN_VERSION__ === 'string' ? __CAPSTAN_VERSION__ : '0.1.0';
const BUNDLED = typeof __CAPSTAN_BUNDLE__ === 'boolean' && __CAPSTAN_BUNDLE__;

// Server-side commands run from source (they find their files through import.meta.url and
// load native modules); the bundle hands them over to tsx.
const SOURCE_ONLY = new Set(['agent', 'director', 'monitor', 'stemcell', 'up', 'down']);
const GLOBAL_WITH_VALUE = new Set(['-e', '--environment', '--ca-cert', '--client', '--client-secret', '-d', '--deployment', '--column']);

/** The command word: the first argument that is neither a global flag nor its value. */
export function commandWord(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (GLOBAL_WITH_VALUE.has(arg)) i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

async function runFromSource(argv: string[]): Promise<number> {
  const { spawn } = await import('node:child_process');
  const { REPO_ROOT } = await import('./repo.js');
  const { join } = await import('node:path');
  const { pathToFileURL } = await import('node:url');
  const child = spawn(
    process.execPath,
    ['--import', pathToFileURL(join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')).href, join(REPO_ROOT, 'src/cli/main.ts'), ...argv],
    { stdio: 'inherit' },
  );
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
  return new Promise((done) => child.on('close', (code, signal) => done(code ?? (signal ? 128 + 15 : 1))));
}

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
    .addOption(new Option('--column <header>', 'show only this column (repeatable)').argParser(collectVar))
    .addOption(new Option('--sort', 'sort table rows (default)'))
    .addOption(new Option('--no-sort', 'keep table rows in the order the director sent them'))
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
  registerInstanceStateCommands(program, wrap);
  registerLogsSshCommands(program, wrap);
  registerDirectorInfoCommands(program, wrap);
  registerAliasCommands(program, wrap);
  registerReleaseDirCommands(program, wrap);
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
  if (argv.length === 1 && (argv[0] === '-v' || argv[0] === '--version')) {
    process.stdout.write(`version ${VERSION}\n\nSucceeded\n`);
    return 0;
  }
  if (BUNDLED && SOURCE_ONLY.has(commandWord(argv) ?? '')) return runFromSource(argv);
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
const QUIET = new Set(['env', 'stemcell', 'director', 'monitor', 'interpolate', 'int', 'curl']);
function commandPrintsItsOwnResult(program: Command): boolean {
  const name = (program.args[0] ?? '') as string;
  return QUIET.has(name);
}

/** Runs the CLI as the process (exit code, EPIPE handling). */
export function runCli(argv: string[]): void {
  // `capstan ... | head`: a closed stdout ends the program quietly, as with any Unix tool.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

if (!BUNDLED && process.argv[1] !== undefined && /src[\/\\]cli[\/\\]main\.ts$/.test(process.argv[1])) runCli(process.argv.slice(2));
