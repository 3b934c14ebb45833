// A complete local environment with the dummy CPI for acceptance tests and benchmarks: `capstan up`
// in a temporary CAPSTAN_HOME on free ports (real nats-server with mutual TLS, the real director
// process; VMs are Capstan agent processes each running the real monit), a dummy stemcell uploaded,
// and the `capstan` CLI to drive it as a user would.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { create as createTar } from 'tar';
import { DirectorClient } from '../../src/cli/director-client.js';
import { DEFAULT_AGENT_BUNDLE } from '../../src/cpi/dummy/dummy-cpi.js';
import { down, up } from '../../src/environment/up.js';
import { testDatabaseFlag } from './test-db.js';

export const REPO = resolve(import.meta.dirname, '../..');

/** Why an environment cannot be started here, or false. */
export const dummyEnvironmentSkip: string | false = existsSync(DEFAULT_AGENT_BUNDLE) ? false : `no agent bundle at ${DEFAULT_AGENT_BUNDLE} (npm run build:agent)`;

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface DummyEnvironment {
  home: string;
  work: string;
  /** Runs `capstan <args>` (non-interactive) against this environment. */
  capstan(...args: string[]): Promise<CliResult>;
  /** Like capstan() but throws with the output when the command fails. */
  capstanOk(...args: string[]): Promise<string>;
  client(): DirectorClient;
  /** RSS of the director process in kB (from /proc). */
  directorRssKb(): number;
  stop(): Promise<void>;
}

export interface DummyEnvironmentOptions {
  /** The agents' job supervisor: real monit (default) or `dummy` (no monit; benchmarks). */
  supervisor?: 'monit' | 'dummy';
}

export async function startDummyEnvironment(prefix = 'capstan-dummy-env', options: DummyEnvironmentOptions = {}): Promise<DummyEnvironment> {
  const home = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const work = join(home, 'work');
  mkdirSync(work);
  const ports = { directorPort: await freePort(), natsPort: await freePort(), blobstorePort: await freePort() };
  const { env: target, paths } = await up({ home, cpi: 'dummy', ...ports, database: testDatabaseFlag(), dummySupervisor: options.supervisor });
  const processEnv: NodeJS.ProcessEnv = { ...process.env, CAPSTAN_HOME: home };
  for (const name of Object.keys(processEnv)) {
    if (/^(BOSH|CAPSTAN)_(ENVIRONMENT|CA_CERT|CLIENT|CLIENT_SECRET|DEPLOYMENT)$/.test(name)) delete processEnv[name];
  }
  const capstan = (...args: string[]) =>
    new Promise<CliResult>((done, fail) => {
      const child = spawn(join(REPO, 'bin', 'capstan'), ['-n', ...args], { env: processEnv, cwd: work });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.once('error', fail);
      child.once('close', (status) => done({ status, stdout, stderr }));
    });
  const environment: DummyEnvironment = {
    home,
    work,
    capstan,
    capstanOk: async (...args) => {
      const result = await capstan(...args);
      if (result.status !== 0) throw new Error(`capstan ${args.join(' ')} failed (exit ${result.status}):\n${result.stdout}${result.stderr}`);
      return result.stdout;
    },
    client: () => new DirectorClient({ url: target.url, caCert: readFileSync(target.ca_cert_path, 'utf8'), client: target.client, clientSecret: target.client_secret }),
    directorRssKb: () => {
      const pid = readFileSync(paths.directorPid, 'utf8').trim();
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    },
    stop: async () => {
      await down({ home });
      rmSync(home, { recursive: true, force: true });
    },
  };
  try {
    await environment.capstanOk('upload-stemcell', await dummyStemcell(work));
  } catch (err) {
    await environment.stop();
    throw err;
  }
  return environment;
}

/** A stemcell tarball the dummy CPI accepts (its "image" is only recorded). */
export async function dummyStemcell(dir: string, version = '1'): Promise<string> {
  const src = join(dir, `stemcell-${version}`);
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'image'), 'dummy image\n');
  const { createHash } = await import('node:crypto');
  writeFileSync(join(src, 'stemcell.MF'), [
    'name: capstan-dummy-debian-bookworm', `version: '${version}'`, 'operating_system: debian-bookworm', 'api_version: 2',
    `sha1: ${createHash('sha1').update('dummy image\n').digest('hex')}`, 'stemcell_formats: [dummy]', 'cloud_properties: {}', '',
  ].join('\n'));
  const tgz = join(dir, `stemcell-${version}.tgz`);
  await createTar({ gzip: true, file: tgz, cwd: src }, ['stemcell.MF', 'image']);
  return tgz;
}

/** Writes a release directory: jobs/<name>/{spec, monit, templates/*} and config/final.yml. */
export function writeReleaseDir(dir: string, name: string, jobs: Array<{ name: string; spec: Record<string, unknown>; monit: string; templates: Record<string, string> }>): string {
  mkdirSync(join(dir, 'config'), { recursive: true });
  mkdirSync(join(dir, 'packages'), { recursive: true });
  writeFileSync(join(dir, 'config', 'final.yml'), `name: ${name}\n`);
  for (const job of jobs) {
    mkdirSync(join(dir, 'jobs', job.name, 'templates'), { recursive: true });
    writeFileSync(join(dir, 'jobs', job.name, 'spec'), JSON.stringify({ name: job.name, packages: [], ...job.spec }, null, 2));
    writeFileSync(join(dir, 'jobs', job.name, 'monit'), job.monit);
    for (const [file, content] of Object.entries(job.templates)) writeFileSync(join(dir, 'jobs', job.name, 'templates', file), content);
  }
  return dir;
}
