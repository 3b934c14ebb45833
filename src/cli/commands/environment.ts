// capstan up / down / env: the local environment (src/environment).
import type { Command } from 'commander';
import { Option } from 'commander';
import { environmentExports } from '../../environment/env-file.js';
import { down, environmentStatus, up, type CpiName } from '../../environment/up.js';
import { CliError } from '../context.js';
import type { Wrap } from '../main.js';

export function registerEnvironmentCommands(program: Command, wrap: Wrap): void {
  program
    .command('up')
    .description('start the local environment (certificates, nats-server, director) under $CAPSTAN_HOME')
    .addOption(new Option('--cpi <cpi>', 'CPI for VMs (default: docker when an engine answers, else dummy)').choices(['docker', 'dummy']))
    .option('--director-port <port>', 'director HTTPS port (default 25555, or what this environment used before)', toPort)
    .option('--nats-port <port>', 'nats-server port (default 4222)', toPort)
    .option('--blobstore-port <port>', 'embedded blobstore port (default 25250)', toPort)
    .option('--network <name>', 'Docker network for VMs (default capstan)')
    .option('--subnet <cidr>', 'subnet of a new Docker network (default 10.245.0.0/24); its first address is the host')
    .action(
      wrap(async (ctx, opts: UpFlags) => {
        const network = opts.network || opts.subnet ? { name: opts.network ?? 'capstan', subnet: opts.subnet ?? '10.245.0.0/24' } : undefined;
        const result = await up({
          home: ctx.home,
          cpi: opts.cpi,
          directorPort: opts.directorPort,
          natsPort: opts.natsPort,
          blobstorePort: opts.blobstorePort,
          network,
          say: (line) => ctx.ui.endLine(line),
        });
        ctx.ui.endLine(`Environment '${result.env.name}' is running at ${result.env.url} (CPI '${result.env.cpi}')`);
        ctx.ui.endLine(`Target it with: eval "$(capstan env --export)"`);
      }),
    );

  program
    .command('down')
    .description('stop the local environment (state stays in $CAPSTAN_HOME)')
    .action(
      wrap(async (ctx) => {
        await down({ home: ctx.home, say: (line) => ctx.ui.endLine(line) });
      }),
    );

  program
    .command('env')
    .description('show the local environment; --export prints shell exports for bosh-compatible clients')
    .option('--export', 'print `export BOSH_ENVIRONMENT=... BOSH_CLIENT_SECRET=...` lines')
    .action(
      wrap(async (ctx, opts: { export?: boolean }) => {
        const status = environmentStatus(ctx.home);
        if (!status.env) throw new CliError(`No environment in '${ctx.home}': run 'capstan up'`);
        if (opts.export) {
          // The user asked for the credentials; they go to stdout only, never to a log.
          process.stdout.write(environmentExports(status.env));
          return;
        }
        ctx.ui.printTable({
          content: '',
          header: ['Name', 'URL', 'CPI', 'CA Certificate', 'Client', 'Director', 'NATS'],
          rows: [
            [
              status.env.name,
              status.env.url,
              status.env.cpi,
              status.env.ca_cert_path,
              status.env.client,
              status.directorPid ? `running (pid ${status.directorPid})` : 'stopped',
              status.natsPid ? `running (pid ${status.natsPid})` : 'stopped',
            ],
          ],
          transpose: true,
        });
      }),
    );
}

interface UpFlags {
  cpi?: CpiName;
  directorPort?: number;
  natsPort?: number;
  blobstorePort?: number;
  network?: string;
  subnet?: string;
}

function toPort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new CliError(`Invalid port '${value}'`);
  return port;
}
