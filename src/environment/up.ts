// `capstan up` / `capstan down`: the local environment. up() is idempotent: what already runs
// (found through pid files and health checks) is left alone, what is missing is created.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { DirectorClient } from '../cli/director-client.js';
import { REPO_ROOT } from '../cli/repo.js';
import { ensureCertificates } from './certs.js';
import { buildDirectorConfig, moveLegacyVariablesKey, parseDatabase, previousNetworkSettings } from './director-config.js';
import { buildMonitorConfig } from './monitor-config.js';
import { readEnvironmentFile, writeEnvironmentFile, writeSecretFile, type EnvironmentFile } from './env-file.js';
import { writeNatsServerConfig } from './nats.js';
import { capstanHome, environmentPaths, NATS_AUTHORIZATION_FILE, type EnvironmentPaths } from './paths.js';
import type { DirectorConfig } from '../director/config.js';
import { authorizationConfig, certificateSubject, directorUser, monitorUser } from '../director/nats-auth/authorization.js';
import { runningPid, startDetached, stopProcess } from './processes.js';

export const DOCKER_NETWORK = 'capstan';
export const DOCKER_SUBNET = '10.245.0.0/24';
export const DOCKER_GATEWAY = '10.245.0.1';
export const LOOPBACK = '127.0.0.1';

export interface DockerNetwork {
  name: string;
  subnet: string;
  gateway: string;
}
const DEFAULT_DOCKER_NETWORK: DockerNetwork = { name: DOCKER_NETWORK, subnet: DOCKER_SUBNET, gateway: DOCKER_GATEWAY };

const CLI_MAIN = join(REPO_ROOT, 'src/cli/main.ts');
// A pid file's process is ours when its command line names this environment's config file
// (guards against reused pids and against another environment's processes).
const natsMarker = (paths: EnvironmentPaths) => paths.natsConfig;
const directorMarker = (paths: EnvironmentPaths) => paths.directorConfig;

export type CpiName = 'docker' | 'dummy';

export interface UpOptions {
  home?: string;
  cpi?: CpiName;
  directorPort?: number;
  natsPort?: number;
  blobstorePort?: number;
  /** The Docker network VMs join (default `capstan`, 10.245.0.0/24); its gateway is the host's address. */
  network?: { name: string; subnet: string };
  /** Director DB: a postgres:// URL or a SQLite path (default: SQLite under the home, or what it used before). */
  database?: string;
  natsServerBinary?: string;
  /** Creates the docker network (defaults to the Docker CPI's ensureNetwork). */
  ensureNetwork?: (network: DockerNetwork) => Promise<void>;
  /** Progress lines for the user (never secrets). */
  say?: (line: string) => void;
  readyTimeoutMs?: number;
  /** The director's agent timeouts (director config `agent_timeouts`); default: what the previous config had. */
  agentTimeouts?: DirectorConfig['agent_timeouts'];
  /** dummy CPI: the agents' job supervisor (director config `cpi.supervisor`); `dummy` runs no monit (benchmarks). */
  dummySupervisor?: 'monit' | 'dummy';
}

export interface UpResult {
  env: EnvironmentFile;
  paths: EnvironmentPaths;
  started: string[];
  alreadyRunning: string[];
}

export async function up(options: UpOptions = {}): Promise<UpResult> {
  const say = options.say ?? (() => {});
  const paths = environmentPaths(options.home ?? capstanHome());
  for (const dir of [paths.home, paths.logs, paths.run, paths.directorDir, paths.blobstore, paths.cache]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  const cpi = options.cpi ?? (await chooseCpi(paths));
  const previous = previousNetworkSettings(paths.directorConfig);
  const network = options.network ? { ...options.network, gateway: firstHost(options.network.subnet) } : previous.dockerNetwork ?? DEFAULT_DOCKER_NETWORK;
  const hostAddress = cpi === 'docker' ? network.gateway : LOOPBACK;
  const ports = {
    directorPort: options.directorPort ?? previous.directorPort ?? 25555,
    natsPort: options.natsPort ?? previous.natsPort ?? 4222,
    blobstorePort: options.blobstorePort ?? previous.blobstorePort ?? 25250,
  };
  say(`Using CPI '${cpi}', home '${paths.home}'`);

  if (cpi === 'docker') {
    await (options.ensureNetwork ?? defaultEnsureNetwork)(network);
    say(`Docker network '${network.name}' (${network.subnet}, gateway ${network.gateway}) is ready`);
  }

  const created = ensureCertificates(paths, { natsIp: hostAddress, directorIps: [LOOPBACK, network.gateway] });
  if (created.length > 0) say(`Created certificates: ${created.join(', ')}`);

  const started: string[] = [];
  const alreadyRunning: string[] = [];

  writeNatsServerConfig(
    paths.natsConfig,
    {
      host: hostAddress,
      port: ports.natsPort,
      certificatePath: paths.certs.nats,
      privateKeyPath: paths.certs.natsKey,
      caPath: paths.certs.ca,
      authorizationInclude: NATS_AUTHORIZATION_FILE,
    },
    initialNatsAuthorization(paths),
  );
  const natsPid = runningPid(paths.natsPid, natsMarker(paths));
  if (natsPid !== undefined) {
    alreadyRunning.push('nats');
    say(`nats-server is already running (pid ${natsPid})`);
  } else {
    await ensurePortFree(hostAddress, ports.natsPort, 'nats-server');
    const pid = startDetached({
      command: options.natsServerBinary ?? findNatsServer(),
      args: ['-c', paths.natsConfig],
      pidFile: paths.natsPid,
      logFile: paths.natsLog,
    });
    await waitForPort(hostAddress, ports.natsPort, options.readyTimeoutMs ?? 30_000, () => processGone(paths.natsPid, natsMarker(paths), paths.natsLog));
    started.push('nats');
    say(`Started nats-server on ${hostAddress}:${ports.natsPort} (pid ${pid}), log ${paths.natsLog}`);
  }

  const database = options.database ? parseDatabase(options.database) : previous.database;
  moveLegacyVariablesKey(paths);
  const config = buildDirectorConfig(paths, { cpi, hostAddress, dockerNetwork: network, database, ...ports });
  const agentTimeouts = options.agentTimeouts ?? previousAgentTimeouts(paths.directorConfig);
  if (agentTimeouts) config.agent_timeouts = agentTimeouts;
  const trustedCerts = previousTrustedCerts(paths.directorConfig);
  if (trustedCerts) config.trusted_certs = trustedCerts;
  if (options.dummySupervisor && config.cpi.type === 'dummy') config.cpi.supervisor = options.dummySupervisor;
  writeSecretFile(paths.directorConfig, JSON.stringify(config, null, 2) + '\n');
  const env: EnvironmentFile = {
    name: config.name,
    url: `https://${LOOPBACK}:${ports.directorPort}`,
    ca_cert_path: paths.certs.ca,
    client: 'admin',
    client_secret: config.users[0].password,
    cpi,
  };
  const directorPid = runningPid(paths.directorPid, directorMarker(paths));
  if (directorPid !== undefined) {
    await waitForDirector(env, options.readyTimeoutMs ?? 60_000, () => processGone(paths.directorPid, directorMarker(paths), paths.directorLog));
    alreadyRunning.push('director');
    say(`Director is already running (pid ${directorPid})`);
  } else {
    await ensurePortFree(LOOPBACK, ports.directorPort, 'the director');
    await ensurePortFree(LOOPBACK, ports.blobstorePort, "the director's blobstore");
    const pid = startDetached({
      command: process.execPath,
      args: ['--import', import.meta.resolve('tsx'), CLI_MAIN, 'director', '-c', paths.directorConfig],
      pidFile: paths.directorPid,
      logFile: paths.directorLog,
      cwd: REPO_ROOT,
      env: { ...process.env, CAPSTAN_HOME: paths.home },
    });
    await waitForDirector(env, options.readyTimeoutMs ?? 60_000, () => processGone(paths.directorPid, directorMarker(paths), paths.directorLog));
    started.push('director');
    say(`Started director on ${env.url} (pid ${pid}), log ${paths.directorLog}`);
  }
  writeEnvironmentFile(paths.envFile, env);
  await ensureMonitor(paths, buildMonitorConfig(paths, config, env.url, ports.directorPort + MONITOR_PORT_OFFSET), { say, started, alreadyRunning });
  return { env, paths, started, alreadyRunning };
}

/** An operator's (or a test's) `agent_timeouts` survive a plain `capstan up`. */
/** An operator's `trusted_certs` (PEM bundle for every VM) survive `capstan up` too. */
function previousTrustedCerts(path: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as Partial<DirectorConfig>).trusted_certs;
  } catch {
    return undefined;
  }
}

function previousAgentTimeouts(path: string): DirectorConfig['agent_timeouts'] {
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as Partial<DirectorConfig>).agent_timeouts;
  } catch {
    return undefined;
  }
}

// 25555 + 368 = 25923, bosh-monitor's port; a second environment's monitor moves with its director.
const MONITOR_PORT_OFFSET = 368;

async function ensureMonitor(
  paths: EnvironmentPaths,
  config: object,
  progress: { say: (line: string) => void; started: string[]; alreadyRunning: string[] },
): Promise<void> {
  mkdirSync(dirname(paths.monitorConfig), { recursive: true, mode: 0o700 });
  writeSecretFile(paths.monitorConfig, JSON.stringify(config, null, 2) + '\n');
  const running = runningPid(paths.monitorPid, paths.monitorConfig);
  if (running !== undefined) {
    progress.alreadyRunning.push('monitor');
    progress.say(`Health monitor is already running (pid ${running})`);
    return;
  }
  const pid = startDetached({
    command: process.execPath,
    args: ['--import', import.meta.resolve('tsx'), CLI_MAIN, 'monitor', '-c', paths.monitorConfig],
    pidFile: paths.monitorPid,
    logFile: paths.monitorLog,
    cwd: REPO_ROOT,
  });
  progress.started.push('monitor');
  progress.say(`Started health monitor (pid ${pid}), log ${paths.monitorLog}`);
}

/** Director and monitor only; the director adds its agents when it starts (and as VMs come and go). */
function initialNatsAuthorization(paths: EnvironmentPaths): string {
  const subject = (certPath: string) => certificateSubject(readFileSync(certPath, 'utf8'));
  return authorizationConfig([directorUser(subject(paths.certs.directorClient)), monitorUser(subject(paths.certs.monitorClient))]);
}

export interface DownResult {
  stopped: string[];
}

/** Stops the director, then nats-server. State (certs, DB, blobs, env.json) stays. */
export async function down(options: { home?: string; say?: (line: string) => void } = {}): Promise<DownResult> {
  const say = options.say ?? (() => {});
  const paths = environmentPaths(options.home ?? capstanHome());
  const stopped: string[] = [];
  if (await stopProcess(paths.monitorPid, paths.monitorConfig)) {
    stopped.push('monitor');
    say('Stopped health monitor');
  }
  if (await stopProcess(paths.directorPid, directorMarker(paths))) {
    stopped.push('director');
    say('Stopped director');
  }
  if (await stopProcess(paths.natsPid, natsMarker(paths))) {
    stopped.push('nats');
    say('Stopped nats-server');
  }
  if (stopped.length === 0) say('Nothing was running');
  return { stopped };
}

/** Environment status for `capstan env`. */
export function environmentStatus(home = capstanHome()) {
  const paths = environmentPaths(home);
  return {
    paths,
    env: readEnvironmentFile(paths.envFile),
    natsPid: runningPid(paths.natsPid, natsMarker(paths)),
    directorPid: runningPid(paths.directorPid, directorMarker(paths)),
  };
}

async function chooseCpi(paths: EnvironmentPaths): Promise<CpiName> {
  // A running environment keeps the CPI it was started with.
  const previous = readEnvironmentFile(paths.envFile);
  if (previous && runningPid(paths.directorPid, directorMarker(paths)) !== undefined) return previous.cpi;
  return (await dockerAnswers()) ? 'docker' : 'dummy';
}

export async function dockerAnswers(): Promise<boolean> {
  try {
    await promisify(execFile)('docker', ['info'], { timeout: 15_000 });
    return true;
  } catch {
    return false;
  }
}

function findNatsServer(): string {
  for (const candidate of ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']) {
    if (existsSync(candidate)) return candidate;
  }
  return 'nats-server';
}

// Loaded on demand: dockerode is only needed when the docker CPI is used.
async function defaultEnsureNetwork(network: DockerNetwork): Promise<void> {
  const docker = await import('../cpi/docker/network.js');
  await docker.ensureNetwork(network);
}

/** The first host address of an IPv4 CIDR (the Docker bridge gateway, the host's side). */
export function firstHost(cidr: string): string {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
  if (!match) throw new Error(`Invalid subnet '${cidr}': expected an IPv4 CIDR like 10.245.0.0/24`);
  const [a, b, c, d] = match.slice(1, 5).map(Number);
  return `${a}.${b}.${c}.${d + 1}`;
}

/** Error text when a started process died early (with the tail of its log), else undefined. */
function processGone(pidFile: string, marker: string, logFile: string): string | undefined {
  if (runningPid(pidFile, marker) !== undefined) return undefined;
  const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : '';
  return `exited early; last lines of ${logFile}:\n${tail}`;
}

// Another environment (another CAPSTAN_HOME) on the same ports would answer our health checks.
async function ensurePortFree(host: string, port: number, what: string): Promise<void> {
  if (await portAnswers(host, port)) {
    throw new Error(`Cannot start ${what}: ${host}:${port} is already in use (another Capstan environment? stop it with 'capstan down' and its CAPSTAN_HOME)`);
  }
}

async function waitForPort(host: string, port: number, timeoutMs: number, gone: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await portAnswers(host, port)) return;
    const why = gone();
    if (why) throw new Error(`nats-server ${why}`);
    if (Date.now() > deadline) throw new Error(`nats-server did not listen on ${host}:${port} within ${timeoutMs / 1000}s`);
    await sleep(100);
  }
}

function portAnswers(host: string, port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const socket = connect({ host, port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolvePort(true);
    });
    socket.once('error', () => resolvePort(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolvePort(false);
    });
  });
}

async function waitForDirector(env: EnvironmentFile, timeoutMs: number, gone: () => string | undefined): Promise<void> {
  const client = new DirectorClient({ url: env.url, caCert: readFileSync(env.ca_cert_path, 'utf8') });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        await client.info();
        return;
      } catch (err) {
        const why = gone();
        if (why) throw new Error(`Director ${why}`);
        if (Date.now() > deadline) throw new Error(`Director did not answer GET ${env.url}/info within ${timeoutMs / 1000}s: ${(err as Error).message}`);
      }
      await sleep(250);
    }
  } finally {
    client.close();
  }
}
