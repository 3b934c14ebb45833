// What every command needs: the global flags, the UI, and a director client for the target
// environment: -e (URL or alias from the CLI config) or BOSH_/CAPSTAN_ environment variables,
// else the local environment's env.json; credentials from flags, environment variables, the
// CLI config (log-in), then env.json.
import { existsSync, readFileSync } from 'node:fs';
import { readEnvironmentFile, type EnvironmentFile } from '../environment/env-file.js';
import { capstanHome, environmentPaths } from '../environment/paths.js';
import { configPath, findEnvironment, readCliConfig } from './config.js';
import { DirectorClient, normalizeDirectorUrl, type DirectorTarget } from './director-client.js';
import { TaskEventReporter } from './renderers/task-reporter.js';
import { JsonUi, TextUi, type Ui } from './ui.js';

export interface GlobalOptions {
  environment?: string;
  caCert?: string;
  client?: string;
  clientSecret?: string;
  deployment?: string;
  json?: boolean;
  nonInteractive?: boolean;
  column?: string[];
  sort?: boolean;
}

export class CliError extends Error {}

export class CliContext {
  readonly ui: Ui;
  private client: DirectorClient | undefined;

  constructor(
    readonly options: GlobalOptions,
    readonly env: NodeJS.ProcessEnv = process.env,
    ui?: Ui,
  ) {
    const color = !options.json && !!process.stdout.isTTY && !env.NO_COLOR && env.TERM !== 'dumb';
    const tables = { columns: options.column, sort: options.sort, color };
    this.ui = ui ?? (options.json ? new JsonUi(process.stdout, tables) : new TextUi(process.stdout, process.stderr, tables));
  }

  get home(): string {
    return capstanHome(this.env);
  }

  get configPath(): string {
    return configPath(this.env);
  }

  /** A client for the target without contacting it. */
  async target(): Promise<DirectorTarget> {
    return resolveTarget(this.options, this.env);
  }

  /** The director client; the first call prints `Using environment '<url>' as user '<user>'`. */
  async director(): Promise<DirectorClient> {
    if (this.client) return this.client;
    const client = new DirectorClient(await this.target());
    const info = await client.info();
    this.ui.printLine(
      info.user ? `Using environment '${client.url}' as user '${info.user}'` : `Using environment '${client.url}' as anonymous user`,
    );
    this.client = client;
    return client;
  }

  /** -d, else $BOSH_DEPLOYMENT / $CAPSTAN_DEPLOYMENT. */
  get deploymentName(): string | undefined {
    return first(this.options.deployment, this.env.BOSH_DEPLOYMENT, this.env.CAPSTAN_DEPLOYMENT);
  }

  /** The deployment (required); prints `Using deployment '<name>'` like bosh. */
  deployment(): string {
    const name = this.deploymentName;
    if (!name) throw new CliError('Expected non-empty deployment name (use -d/--deployment)');
    this.ui.printLine(`Using deployment '${name}'`);
    return name;
  }

  taskReporter(mode: 'events' | 'raw' = 'events'): TaskEventReporter {
    return new TaskEventReporter(this.ui, mode);
  }

  /** Asks `Continue? [yN]` on a terminal unless -n; anything else proceeds. */
  async confirm(): Promise<void> {
    if (this.options.nonInteractive || this.options.json || !process.stdin.isTTY) return;
    const answer = await this.ask('\nContinue? [yN]: ');
    if (!/^y(es)?$/i.test(answer.trim())) throw new CliError('Stopped');
  }

  /** One line from the terminal (log-in, cck resolutions). */
  async ask(question: string): Promise<string> {
    const { createInterface } = await import('node:readline/promises');
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    try {
      return await rl.question(question);
    } finally {
      rl.close();
    }
  }

  get interactive(): boolean {
    return !this.options.nonInteractive && !this.options.json && !!process.stdin.isTTY;
  }

  close(): void {
    this.client?.close();
  }
}

/** Resolves -e/--ca-cert/--client/--client-secret, their environment variables, the CLI config, then env.json. */
export async function resolveTarget(options: GlobalOptions, env: NodeJS.ProcessEnv = process.env): Promise<DirectorTarget> {
  const local = readEnvironmentFile(environmentPaths(capstanHome(env)).envFile);
  const named = first(options.environment, env.BOSH_ENVIRONMENT, env.CAPSTAN_ENVIRONMENT);
  const caCert = readCa(first(options.caCert, env.BOSH_CA_CERT, env.CAPSTAN_CA_CERT));
  const client = first(options.client, env.BOSH_CLIENT, env.CAPSTAN_CLIENT);
  const clientSecret = first(options.clientSecret, env.BOSH_CLIENT_SECRET, env.CAPSTAN_CLIENT_SECRET);
  const usesLocal = named === undefined || (local !== undefined && (named === local.name || named === 'local' || sameUrl(named, local.url)));
  if (!usesLocal) {
    const config = await readCliConfig(configPath(env));
    const saved = findEnvironment(config, named, sameUrl);
    if (!saved && !looksLikeUrl(named)) throw new CliError(`Expected environment '${named}' to be a URL or an alias (see 'capstan environments')`);
    return {
      url: normalizeDirectorUrl(saved?.url ?? named),
      caCert: caCert ?? readCa(saved?.ca_cert),
      client: client ?? saved?.username,
      clientSecret: client ? clientSecret : (clientSecret ?? saved?.password),
    };
  }
  if (!local) throw new CliError("Expected non-empty Director URL: run 'capstan up' or use -e/--environment (or BOSH_ENVIRONMENT)");
  return {
    url: local.url,
    caCert: caCert ?? readCa(local.ca_cert_path),
    client: client ?? local.client,
    clientSecret: clientSecret ?? local.client_secret,
  };
}

/** An alias is a plain word; anything with a dot, colon or slash is an address. */
function looksLikeUrl(value: string): boolean {
  return /[.:\/]/.test(value) || value === 'localhost';
}

/** The first non-empty value (an empty environment variable counts as unset, as in bosh). */
export function first(...values: Array<string | undefined>): string | undefined {
  return values.find((v) => v !== undefined && v !== '');
}

export function sameUrl(a: string, b: string): boolean {
  try {
    return normalizeDirectorUrl(a) === normalizeDirectorUrl(b);
  } catch {
    return false;
  }
}

/** --ca-cert takes a path or the PEM text itself (as bosh does). */
export function readCa(value: string | undefined): string | undefined {
  if (!value) return undefined;
  if (value.includes('-----BEGIN')) return value;
  if (!existsSync(value)) throw new CliError(`CA certificate '${value}' does not exist`);
  return readFileSync(value, 'utf8');
}

export type { EnvironmentFile };
