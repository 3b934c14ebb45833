// The CLI config file (`$CAPSTAN_HOME/config`, i.e. ~/.capstan/config; CAPSTAN_CONFIG or
// BOSH_CONFIG name another): environments by URL with their alias, CA and the credentials
// saved by `log-in` — the layout of bosh's ~/.bosh/config. It holds secrets: written 0600.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSecretFile } from '../environment/env-file.js';
import { capstanHome } from '../environment/paths.js';

export interface ConfigEnvironment {
  url: string;
  alias?: string;
  ca_cert?: string;
  username?: string;
  password?: string;
}

export interface CliConfig {
  environments: ConfigEnvironment[];
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.CAPSTAN_CONFIG || env.BOSH_CONFIG || join(capstanHome(env), 'config');
}

/** The config, empty when the file does not exist. */
export async function readCliConfig(path: string): Promise<CliConfig> {
  if (!existsSync(path)) return { environments: [] };
  const text = readFileSync(path, 'utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text); // what Capstan writes (JSON is YAML)
  } catch {
    const { parse } = await import('yaml'); // edited by hand
    doc = parse(text);
  }
  const environments = (doc as Partial<CliConfig> | null)?.environments;
  return { environments: Array.isArray(environments) ? environments : [] };
}

export function writeCliConfig(path: string, config: CliConfig): void {
  writeSecretFile(path, JSON.stringify(config, null, 2) + '\n');
}

/** The environment named by an alias or a URL. */
export function findEnvironment(config: CliConfig, nameOrUrl: string, sameUrl: (a: string, b: string) => boolean): ConfigEnvironment | undefined {
  return config.environments.find((e) => e.alias === nameOrUrl) ?? config.environments.find((e) => sameUrl(e.url, nameOrUrl));
}

/** Adds or updates the environment with this URL (alias-env, log-in). */
export function upsertEnvironment(config: CliConfig, entry: ConfigEnvironment): CliConfig {
  const others = config.environments.filter((e) => e.url !== entry.url && (entry.alias === undefined || e.alias !== entry.alias));
  const existing = config.environments.find((e) => e.url === entry.url);
  const defined = Object.fromEntries(Object.entries(entry).filter(([, v]) => v !== undefined)) as ConfigEnvironment;
  return { environments: [...others, { ...existing, ...defined }] };
}
