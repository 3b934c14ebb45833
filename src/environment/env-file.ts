// env.json: how clients target the local environment (url, CA, client credentials).
// Holds the admin password, so it is written 0600 and its content never goes to a log.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface EnvironmentFile {
  name: string;
  url: string;
  ca_cert_path: string;
  client: string;
  client_secret: string;
  cpi: 'docker' | 'dummy';
}

export function readEnvironmentFile(path: string): EnvironmentFile | undefined {
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as EnvironmentFile;
}

export function writeEnvironmentFile(path: string, env: EnvironmentFile): void {
  writeSecretFile(path, JSON.stringify(env, null, 2) + '\n');
}

export function writeSecretFile(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, content, { mode: 0o600 });
  chmodSync(path, 0o600);
}

const shellQuote = (value: string) => (/^[A-Za-z0-9_\/.:@%+=,-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`);

/** `export BOSH_...` lines (and CAPSTAN_ equivalents) for a shell; prints the secret on purpose. */
export function environmentExports(env: EnvironmentFile): string {
  const vars: Array<[string, string]> = [
    ['ENVIRONMENT', env.url],
    ['CA_CERT', env.ca_cert_path],
    ['CLIENT', env.client],
    ['CLIENT_SECRET', env.client_secret],
  ];
  const line = (prefix: string) => `export ${vars.map(([k, v]) => `${prefix}${k}=${shellQuote(v)}`).join(' ')}`;
  return `${line('BOSH_')}\n${line('CAPSTAN_')}\n`;
}
