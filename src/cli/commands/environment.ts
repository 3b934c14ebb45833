// capstan up / down / env: the local environment (src/environment).
import type { Command } from 'commander';
import { Option } from 'commander';
import type { CpiName } from '../../environment/up.js';
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
    .option('--database <url>', 'director DB: postgres://user:pass@host/db, or a SQLite file (default $CAPSTAN_HOME/director/db.sqlite)')
    .action(
      wrap(async (ctx, opts: UpFlags) => {
        const { up } = await import('../../environment/up.js');
        const network = opts.network || opts.subnet ? { name: opts.network ?? 'capstan', subnet: opts.subnet ?? '10.245.0.0/24' } : undefined;
        const result = await up({
          home: ctx.home,
          cpi: opts.cpi,
          directorPort: opts.directorPort,
          natsPort: opts.natsPort,
          blobstorePort: opts.blobstorePort,
          network,
          database: opts.database,
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
        const { down } = await import('../../environment/up.js');
        await down({ home: ctx.home, say: (line) => ctx.ui.endLine(line) });
      }),
    );

  program
    .command('env')
    .description('show the local environment; --export prints shell exports for bosh-compatible clients')
    .option('--export', 'print `export BOSH_ENVIRONMENT=... BOSH_CLIENT_SECRET=...` lines')
    .action(
      wrap(async (ctx, opts: { export?: boolean }) => {
        const { environmentStatus } = await import('../../environment/up.js');
        const { environmentExports } = await import('../../environment/env-file.js');
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

/** alias-env, environments, log-in, log-out: the CLI config file (src/cli/config.ts). */
export function registerAliasCommands(program: Command, wrap: Wrap): void {
  program
    .command('alias-env <alias>')
    .description('save -e <url> (and --ca-cert) under an alias in the CLI config')
    .action(
      wrap(async (ctx, alias: string) => {
        const url = ctx.options.environment ?? ctx.env.BOSH_ENVIRONMENT ?? ctx.env.CAPSTAN_ENVIRONMENT;
        if (!url) throw new CliError('Expected -e/--environment <url> to alias');
        const { normalizeDirectorUrl, DirectorClient } = await import('../director-client.js');
        const { readCa } = await import('../context.js');
        const caText = ctx.options.caCert ?? ctx.env.BOSH_CA_CERT ?? ctx.env.CAPSTAN_CA_CERT;
        const client = new DirectorClient({ url, caCert: readCa(caText) });
        try {
          const info = await client.info(); // the alias must point at a director
          const { readCliConfig, upsertEnvironment, writeCliConfig } = await import('../config.js');
          const config = await readCliConfig(ctx.configPath);
          writeCliConfig(ctx.configPath, upsertEnvironment(config, { url: normalizeDirectorUrl(url), alias, ca_cert: readCa(caText) }));
          ctx.ui.printTable(infoTable(client.url, info));
        } finally {
          client.close();
        }
      }),
    );

  program
    .command('environments')
    .alias('envs')
    .description('list the environments of the CLI config')
    .action(
      wrap(async (ctx) => {
        const { readCliConfig } = await import('../config.js');
        const config = await readCliConfig(ctx.configPath);
        ctx.ui.printTable({ content: 'environments', header: ['URL', 'Alias'], sortBy: [0], rows: config.environments.map((e) => [e.url, e.alias ?? '']) });
      }),
    );

  program
    .command('log-in')
    .alias('l')
    .description('log in to the environment (saves the credentials in the CLI config)')
    .action(
      wrap(async (ctx) => {
        const target = await ctx.target();
        let client = target.client;
        let secret = target.clientSecret;
        if (!client || !secret) {
          if (!ctx.interactive) throw new CliError('Expected --client and --client-secret (or BOSH_CLIENT and BOSH_CLIENT_SECRET) when not interactive');
          client = client || (await ctx.ask('Username (): ')).trim();
          secret = secret || (await ctx.ask('Password (): ')).trim();
        }
        const { DirectorClient } = await import('../director-client.js');
        const director = new DirectorClient({ ...target, client, clientSecret: secret });
        try {
          const info = await director.info();
          if (!info.user) throw new CliError(`Logging in to '${director.url}': the director did not accept the credentials`);
          const { readCliConfig, upsertEnvironment, writeCliConfig } = await import('../config.js');
          const config = await readCliConfig(ctx.configPath);
          writeCliConfig(ctx.configPath, upsertEnvironment(config, { url: director.url, username: client, password: secret }));
          ctx.ui.printLine(`Logged in to '${director.url}'`);
        } finally {
          director.close();
        }
      }),
    );

  program
    .command('log-out')
    .description('forget the credentials saved for the environment')
    .action(
      wrap(async (ctx) => {
        const target = await ctx.target();
        const { readCliConfig, writeCliConfig } = await import('../config.js');
        const { normalizeDirectorUrl } = await import('../director-client.js');
        const config = await readCliConfig(ctx.configPath);
        const url = normalizeDirectorUrl(target.url);
        writeCliConfig(ctx.configPath, {
          environments: config.environments.map((e) => (e.url === url ? { url: e.url, alias: e.alias, ca_cert: e.ca_cert } : e)),
        });
        ctx.ui.printLine(`Logged out from '${url}'`);
      }),
    );
}

function infoTable(url: string, info: import('../director-client.js').DirectorInfo) {
  const features = Object.entries(info.features ?? {}).map(([name, f]) => `${name}: ${f.status ? 'enabled' : 'disabled'}`);
  return {
    content: '',
    header: ['URL', 'Name', 'UUID', 'Version', 'CPI', 'Features', 'User'],
    rows: [[url, info.name, info.uuid, info.version, info.cpi, features, info.user ?? '(not logged in)']],
    transpose: true,
  };
}

interface UpFlags {
  cpi?: CpiName;
  directorPort?: number;
  natsPort?: number;
  blobstorePort?: number;
  network?: string;
  subnet?: string;
  database?: string;
}

function toPort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new CliError(`Invalid port '${value}'`);
  return port;
}
