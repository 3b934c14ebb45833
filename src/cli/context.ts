// What every command needs: the global flags, the UI, and a director client for the target
// environment (flag, BOSH_/CAPSTAN_ environment variables, else the local env.json).
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { readEnvironmentFile, type EnvironmentFile } from '../environment/env-file.js';
import { capstanHome, environmentPaths } from '../environment/paths.js';
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
}

export class CliError extends Error {}

export class CliContext {
  readonly ui: Ui;
  private client: DirectorClient | undefined;

  constructor(
    readonly options: GlobalOptions,
    private readonly env: NodeJS.ProcessEnv = process.env,
    ui?: Ui,
  ) {
    this.ui = ui ?? (options.json ? new JsonUi() : new TextUi());
  }

  get home(): string {
    return capstanHome(this.env);
  }

  /** The director client; the first call prints `Using environment '<url>' as user '<user>'`. */
  async director(): Promise<DirectorClient> {
    if (this.client) return this.client;
    const client = new DirectorClient(resolveTarget(this.options, this.env));
    const info = await client.info();
    this.ui.printLine(
      info.user ? `Using environment '${client.url}' as user '${info.user}'` : `Using environment '${client.url}' as anonymous user`,
    );
    this.client = client;
    return client;
  }

  /** The -d deployment; prints `Using deployment '<name>'` like bosh. */
  /** -d, else $BOSH_DEPLOYMENT / $CAPSTAN_DEPLOYMENT. */
  get deploymentName(): string | undefined {
    return first(this.options.deployment, this.env.BOSH_DEPLOYMENT, this.env.CAPSTAN_DEPLOYMENT);
  }

  deployment(): string {
    const name = this.deploymentName;
    if (!name) throw new CliError("Expected non-empty deployment name (use -d/--deployment)");
    this.ui.printLine(`Using deployment '${name}'`);
    return name;
  }

  taskReporter(mode: 'events' | 'raw' = 'events'): TaskEventReporter {
    return new TaskEventReporter(this.ui, mode);
  }

  /** Asks `Continue? [yN]` on a terminal unless -n; anything else proceeds. */
  async confirm(): Promise<void> {
    if (this.options.nonInteractive || this.options.json || !process.stdin.isTTY) return;
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    try {
      const answer = await rl.question('\nContinue? [yN]: ');
      if (!/^y(es)?$/i.test(answer.trim())) throw new CliError('Stopped');
    } finally {
      rl.close();
    }
  }

  close(): void {
    this.client?.close();
  }
}

/** Resolves -e/--ca-cert/--client/--client-secret, their environment variables, then env.json. */
export function resolveTarget(options: GlobalOptions, env: NodeJS.ProcessEnv = process.env): DirectorTarget {
  const local = readEnvironmentFile(environmentPaths(capstanHome(env)).envFile);
  const named = first(options.environment, env.BOSH_ENVIRONMENT, env.CAPSTAN_ENVIRONMENT);
  const caCert = readCa(first(options.caCert, env.BOSH_CA_CERT, env.CAPSTAN_CA_CERT));
  const client = first(options.client, env.BOSH_CLIENT, env.CAPSTAN_CLIENT);
  const clientSecret = first(options.clientSecret, env.BOSH_CLIENT_SECRET, env.CAPSTAN_CLIENT_SECRET);
  const usesLocal = named === undefined || (local !== undefined && (named === local.name || named === 'local' || sameUrl(named, local.url)));
  if (!usesLocal) return { url: normalizeDirectorUrl(named), caCert, client, clientSecret };
  if (!local) throw new CliError("Expected non-empty Director URL: run 'capstan up' or use -e/--environment (or BOSH_ENVIRONMENT)");
  return {
    url: local.url,
    caCert: caCert ?? readCa(local.ca_cert_path),
    client: client ?? local.client,
    clientSecret: clientSecret ?? local.client_secret,
  };
}

/** The first non-empty value (an empty environment variable counts as unset, as in bosh). */
function first(...values: Array<string | undefined>): string | undefined {
  return values.find((v) => v !== undefined && v !== '');
}

function sameUrl(a: string, b: string): boolean {
  try {
    return normalizeDirectorUrl(a) === normalizeDirectorUrl(b);
  } catch {
    return false;
  }
}

/** --ca-cert takes a path or the PEM text itself (as bosh does). */
function readCa(value: string | undefined): string | undefined {
  if (!value) return undefined;
  if (value.includes('-----BEGIN')) return value;
  if (!existsSync(value)) throw new CliError(`CA certificate '${value}' does not exist`);
  return readFileSync(value, 'utf8');
}

export type { EnvironmentFile };
