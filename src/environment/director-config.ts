// Generates the director config (src/director/config.ts schema) for the local environment.
// Passwords and the uuid survive re-runs: they are read back from the previous config.
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { DirectorConfig } from '../director/config.js';
import { certificateSubject } from '../director/nats-auth/authorization.js';
import type { EnvironmentPaths } from './paths.js';

export interface LocalDirectorSettings {
  cpi: 'docker' | 'dummy';
  /** Address agents use for NATS and the blobstore (10.245.0.1 with docker, 127.0.0.1 with dummy). */
  hostAddress: string;
  directorPort: number;
  natsPort: number;
  blobstorePort: number;
  dockerNetwork: { name: string; subnet: string; gateway: string };
  /** The director DB; SQLite under the home when absent. */
  database?: DirectorConfig['db'];
}

/** `--database`: a postgres:// URL, or the path of a SQLite file. */
export function parseDatabase(value: string): DirectorConfig['db'] {
  return /^postgres(ql)?:\/\//.test(value) ? { adapter: 'postgres', url: value } : { adapter: 'sqlite', database: value };
}

interface Secrets {
  uuid: string;
  adminPassword: string;
  blobstorePassword: string;
  monitorPassword: string;
}

/** The director user the health monitor polls and resurrects with. */
export const MONITOR_USER = 'hm';

export const randomPassword = () => randomBytes(18).toString('base64url');

function previousSecrets(path: string): Secrets | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const old = JSON.parse(readFileSync(path, 'utf8')) as DirectorConfig;
    const admin = old.users.find((u) => u.name === 'admin');
    if (!admin) return undefined;
    const monitor = old.users.find((u) => u.name === MONITOR_USER);
    return {
      uuid: old.uuid,
      adminPassword: admin.password,
      blobstorePassword: old.blobstore.server.password,
      // environments made before the monitor existed get its user now
      monitorPassword: monitor?.password ?? randomPassword(),
    };
  } catch {
    return undefined;
  }
}

export function buildDirectorConfig(paths: EnvironmentPaths, settings: LocalDirectorSettings): DirectorConfig {
  const secrets = previousSecrets(paths.directorConfig) ?? {
    uuid: randomUUID(),
    adminPassword: randomPassword(),
    blobstorePassword: randomPassword(),
    monitorPassword: randomPassword(),
  };
  const natsUrl = `nats://${settings.hostAddress}:${settings.natsPort}`;
  return {
    name: 'capstan',
    uuid: secrets.uuid,
    bind: '0.0.0.0',
    port: settings.directorPort,
    base_dir: paths.directorDir,
    tls: { certificate_path: paths.certs.director, private_key_path: paths.certs.directorKey },
    users: [
      { name: 'admin', password: secrets.adminPassword },
      { name: MONITOR_USER, password: secrets.monitorPassword },
    ],
    db: settings.database ?? { adapter: 'sqlite', database: paths.directorDb },
    // outside the director's state dir: a copy of db + blobstore alone does not decrypt the variables
    variables_key_path: paths.variablesKey,
    blobstore: {
      path: paths.blobstore,
      server: { bind: '0.0.0.0', port: settings.blobstorePort, user: 'blobstore', password: secrets.blobstorePassword },
      agent_endpoint: `https://${settings.hostAddress}:${settings.blobstorePort}`,
    },
    nats: {
      url: natsUrl,
      agent_url: natsUrl,
      ca_path: paths.certs.ca,
      client_certificate_path: paths.certs.directorClient,
      client_private_key_path: paths.certs.directorClientKey,
      authorization: {
        include_path: paths.natsAuthorization,
        pid_file: paths.natsPid,
        monitor_subjects: [certificateSubject(readFileSync(paths.certs.monitorClient, 'utf8'))],
      },
    },
    agent_ca: { certificate_path: paths.certs.ca, private_key_path: paths.certs.caKey },
    cpi:
      settings.cpi === 'docker'
        ? { type: 'docker', network: settings.dockerNetwork.name, subnet: settings.dockerNetwork.subnet, gateway: settings.dockerNetwork.gateway }
        : { type: 'dummy', base_dir: join(paths.dummyCpi) },
    agent_wait_timeout_seconds: 600,
  };
}

/** Ports and Docker network of the environment's previous config, so that a plain `capstan up` keeps them. */
export function previousNetworkSettings(path: string): Partial<Pick<LocalDirectorSettings, 'directorPort' | 'natsPort' | 'blobstorePort' | 'dockerNetwork' | 'database'>> {
  if (!existsSync(path)) return {};
  try {
    const old = JSON.parse(readFileSync(path, 'utf8')) as DirectorConfig;
    const docker = old.cpi.type === 'docker' && old.cpi.subnet && old.cpi.gateway ? { name: old.cpi.network, subnet: old.cpi.subnet, gateway: old.cpi.gateway } : undefined;
    return {
      directorPort: old.port,
      natsPort: Number(new URL(old.nats.url).port),
      blobstorePort: old.blobstore.server.port,
      dockerNetwork: docker,
      database: old.db,
    };
  } catch {
    return {};
  }
}

/** Environments made before the key moved out of director/ keep their key (and so their variables). */
export function moveLegacyVariablesKey(paths: EnvironmentPaths): void {
  const legacy = join(paths.directorDir, 'variables.key');
  if (!existsSync(legacy) || existsSync(paths.variablesKey)) return;
  mkdirSync(dirname(paths.variablesKey), { recursive: true, mode: 0o700 });
  renameSync(legacy, paths.variablesKey);
}
