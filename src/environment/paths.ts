// Where the local environment keeps its state ($CAPSTAN_HOME, default ~/.capstan).
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const NATS_AUTHORIZATION_FILE = 'authorization.conf';

export function capstanHome(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.CAPSTAN_HOME || join(homedir(), '.capstan'));
}

export interface EnvironmentPaths {
  home: string;
  certs: {
    dir: string;
    ca: string;
    caKey: string;
    director: string;
    directorKey: string;
    nats: string;
    natsKey: string;
    directorClient: string;
    directorClientKey: string;
    monitorClient: string;
    monitorClientKey: string;
  };
  natsConfig: string;
  /** nats.conf's `authorization {}` include (next to it); the director rewrites it. */
  natsAuthorization: string;
  directorDir: string;
  directorConfig: string;
  directorDb: string;
  /** The key that encrypts generated variables (kept out of director/, see director-config.ts). */
  variablesKey: string;
  blobstore: string;
  logs: string;
  natsLog: string;
  monitorConfig: string;
  monitorLog: string;
  monitorPid: string;
  directorLog: string;
  run: string;
  natsPid: string;
  directorPid: string;
  cache: string;
  dummyCpi: string;
  envFile: string;
}

export function environmentPaths(home: string): EnvironmentPaths {
  const certs = join(home, 'certs');
  const logs = join(home, 'logs');
  const run = join(home, 'run');
  const directorDir = join(home, 'director');
  return {
    home,
    certs: {
      dir: certs,
      ca: join(certs, 'ca.pem'),
      caKey: join(certs, 'ca.key'),
      director: join(certs, 'director.pem'),
      directorKey: join(certs, 'director.key'),
      nats: join(certs, 'nats.pem'),
      natsKey: join(certs, 'nats.key'),
      directorClient: join(certs, 'director-client.pem'),
      directorClientKey: join(certs, 'director-client.key'),
      monitorClient: join(certs, 'hm-client.pem'),
      monitorClientKey: join(certs, 'hm-client.key'),
    },
    natsConfig: join(home, 'nats', 'nats.conf'),
    natsAuthorization: join(home, 'nats', NATS_AUTHORIZATION_FILE),
    directorDir,
    directorConfig: join(directorDir, 'config.json'),
    directorDb: join(directorDir, 'db.sqlite'),
    variablesKey: join(home, 'keys', 'variables.key'),
    blobstore: join(home, 'blobstore'),
    logs,
    natsLog: join(logs, 'nats.log'),
    monitorConfig: join(home, 'monitor', 'config.json'),
    monitorLog: join(logs, 'monitor.log'),
    monitorPid: join(run, 'monitor.pid'),
    directorLog: join(logs, 'director.log'),
    run,
    natsPid: join(run, 'nats.pid'),
    directorPid: join(run, 'director.pid'),
    cache: process.env.CAPSTAN_CACHE ? resolve(process.env.CAPSTAN_CACHE) : join(home, 'cache'),
    dummyCpi: join(home, 'dummy'),
    envFile: join(home, 'env.json'),
  };
}
