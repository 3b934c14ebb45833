// A full local environment for day-2 tests: `up()` with the dummy CPI on free ports in a temp home
// (real nats-server with mutual TLS, the real director process and health monitor, agents as local processes running
// the real monit), a tiny release whose `ticker` job is a shell loop writing a log file, a crafted
// dummy stemcell, and a deployed `day2` deployment.
//
// Dummy VMs live under the CPI's base dir, so the job cannot know its /var/vcap at render time: its
// pre-start links `<run_root>/<instance id>` to the job dir and writes the base dir there, and the
// monit file refers to the link.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { create as createTar } from 'tar';
import { DirectorClient, type Task, type TaskReporter } from '../../src/cli/director-client.js';
import { readEnvironmentFile } from '../../src/environment/env-file.js';
import { environmentPaths, type EnvironmentPaths } from '../../src/environment/paths.js';
import { down, up } from '../../src/environment/up.js';
import { testDatabaseFlag } from './test-db.js';

export const REPO = resolve(import.meta.dirname, '../..');
export const DEPLOYMENT = 'day2';

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => done(p));
    });
  });
}

const silent: TaskReporter = { taskStarted() {}, taskOutputChunk() {}, taskFinished() {} };

export interface Day2Env {
  home: string;
  work: string;
  runRoot: string;
  paths: EnvironmentPaths;
  client: DirectorClient;
  /** bin/capstan against this environment; throws with the output on a non-zero exit. */
  capstan(...args: string[]): string;
  /** Runs an async endpoint to its end; returns the finished task (any end state). */
  task(method: string, path: string, options?: Parameters<DirectorClient['request']>[2]): Promise<Task>;
  manifest(instances?: number): string;
  close(): Promise<void>;
}

function writeFiles(root: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
}

/** The `ticker` release: no packages; one job running a shell loop under monit, plus an errand-style bin/run. */
function writeRelease(dir: string): void {
  writeFiles(dir, {
    'config/final.yml': 'name: day2\n',
    'jobs/ticker/spec': [
      'name: ticker',
      'templates:',
      '  ctl.erb: bin/ctl',
      '  pre-start.erb: bin/pre-start',
      'packages: []',
      'properties:',
      '  run_root:',
      '    description: directory for the per-instance link to the job',
      '',
    ].join('\n'),
    'jobs/ticker/monit': [
      '<% link = "#{p("run_root")}/#{spec.id}" %>',
      'check process ticker',
      '  with pidfile <%= link %>.pid',
      '  start program "<%= link %>/bin/ctl start"',
      '  stop program "<%= link %>/bin/ctl stop"',
      '  group vcap',
      '',
    ].join('\n'),
    'jobs/ticker/templates/pre-start.erb': [
      '#!/bin/bash',
      'set -e',
      'job_dir=$(cd "$(dirname "$0")/.." && pwd)',
      'base=$(cd "$job_dir/../.." && pwd)',
      'link="<%= p("run_root") %>/<%= spec.id %>"',
      'mkdir -p "<%= p("run_root") %>"',
      'ln -sfn "$job_dir" "$link"',
      'echo "$base" > "$link.base"',
      '',
    ].join('\n'),
    'jobs/ticker/templates/ctl.erb': [
      '#!/bin/bash',
      'link="<%= p("run_root") %>/<%= spec.id %>"',
      'base=$(cat "$link.base")',
      'logs="$base/sys/log/ticker"',
      'case "$1" in',
      '  start)',
      '    mkdir -p "$logs"',
      '    nohup bash -c \'while true; do echo "tick <%= spec.name %>/<%= spec.index %> $(date +%s)"; sleep 1; done\' >> "$logs/ticker.stdout.log" 2>&1 &',
      '    echo $! > "$link.pid"',
      '    ;;',
      '  stop)',
      '    kill "$(cat "$link.pid")" 2>/dev/null || true',
      '    rm -f "$link.pid"',
      '    ;;',
      'esac',
      '',
    ].join('\n'),
    'jobs/say-hello/spec': 'name: say-hello\ntemplates:\n  run.erb: bin/run\npackages: []\n',
    'jobs/say-hello/monit': '',
    'jobs/say-hello/templates/run.erb': '#!/bin/bash\necho hello from <%= spec.name %>\n',
    'packages/.keep': '',
    'src/.keep': '',
  });
}

/** A stemcell the dummy CPI accepts (it only records the image). */
export async function writeStemcell(work: string, version = '1'): Promise<string> {
  const dir = join(work, `stemcell-${version}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'image'), 'dummy image');
  const sha1 = createHash('sha1').update('dummy image').digest('hex');
  writeFileSync(
    join(dir, 'stemcell.MF'),
    `name: capstan-dummy\nversion: "${version}"\noperating_system: dummy-os\nsha1: ${sha1}\napi_version: 2\nstemcell_formats: [dummy]\ncloud_properties: {}\n`,
  );
  const tgz = join(work, `stemcell-${version}.tgz`);
  await createTar({ gzip: true, file: tgz, cwd: dir }, ['stemcell.MF', 'image']);
  return tgz;
}

const CLOUD_CONFIG = `
azs: [{name: z1}]
vm_types: [{name: small}]
networks:
- name: default
  type: manual
  subnets:
  - range: 10.250.0.0/24
    gateway: 10.250.0.1
    az: z1
    reserved: [10.250.0.2-10.250.0.9]
    static: [10.250.0.10-10.250.0.20]
compilation: {workers: 1, az: z1, vm_type: small, network: default}
`;

function manifestText(runRoot: string, instances: number): string {
  return `
name: ${DEPLOYMENT}
releases: [{name: day2, version: latest}]
stemcells: [{alias: default, os: dummy-os, version: latest}]
update: {canaries: 1, max_in_flight: 2, canary_watch_time: 1000-30000, update_watch_time: 1000-30000}
instance_groups:
- name: ticker
  instances: ${instances}
  azs: [z1]
  vm_type: small
  stemcell: default
  networks: [{name: default}]
  jobs:
  - name: ticker
    release: day2
    properties: {run_root: ${runRoot}}
- name: hello
  lifecycle: errand
  instances: 1
  azs: [z1]
  vm_type: small
  stemcell: default
  networks: [{name: default}]
  jobs: [{name: say-hello, release: day2}]
`;
}

/** Starts the environment and deploys `day2` with `instances` ticker instances. */
/**
 * Agent timeouts for tests: an unresponsive agent is found within seconds instead of BOSH's 10 s
 * (cloud check) and 45 s (deploy) per attempt.
 */
export const TEST_AGENT_TIMEOUTS = { get_state_seconds: 3, scan_seconds: 2, vm_state_seconds: 2, unresponsive_stop_seconds: 2 };

export async function startDay2Env(instances = 2): Promise<Day2Env> {
  const home = mkdtempSync(join(tmpdir(), 'capstan-day2-home-'));
  const work = mkdtempSync(join(tmpdir(), 'capstan-day2-work-'));
  const runRoot = join(work, 'run');
  const ports = { directorPort: await freePort(), natsPort: await freePort(), blobstorePort: await freePort() };
  await up({ home, cpi: 'dummy', ...ports, database: testDatabaseFlag(), agentTimeouts: TEST_AGENT_TIMEOUTS });
  const paths = environmentPaths(home);
  const envFile = readEnvironmentFile(paths.envFile)!;
  const client = new DirectorClient({ url: envFile.url, caCert: readFileSync(envFile.ca_cert_path, 'utf8'), client: envFile.client, clientSecret: envFile.client_secret }, { pollIntervalMs: 200 });
  // from source: the CLI bundle in dist/ may be mid-rebuild while tests run
  const processEnv: NodeJS.ProcessEnv = { ...process.env, CAPSTAN_HOME: home, CAPSTAN_FROM_SOURCE: '1' };
  for (const name of Object.keys(processEnv)) {
    if (/^(BOSH|CAPSTAN)_(ENVIRONMENT|CA_CERT|CLIENT|CLIENT_SECRET|DEPLOYMENT)$/.test(name)) delete processEnv[name];
  }
  const capstan = (...args: string[]): string => {
    const result = spawnSync(join(REPO, 'bin', 'capstan'), args, { env: processEnv, encoding: 'utf8', timeout: 10 * 60_000 });
    if (result.status !== 0) throw new Error(`capstan ${args.join(' ')} failed (exit ${result.status}):\n${result.stdout}${result.stderr}`);
    return result.stdout;
  };
  const task = async (method: string, path: string, options: Parameters<DirectorClient['request']>[2] = {}) => {
    const started = await client.startTask(method, path, options);
    return client.waitForTask(started, silent);
  };
  const env: Day2Env = {
    home, work, runRoot, paths, client, capstan, task,
    manifest: (n = instances) => manifestText(runRoot, n),
    async close() {
      client.close();
      // delete the deployment's VMs (agent processes and their monit) before stopping the director
      try {
        await task('DELETE', `/deployments/${DEPLOYMENT}`, { query: { force: true } });
      } catch {
        // not deployed or already deleted
      }
      await down({ home });
      killLeftoverAgents(paths);
      rmSync(home, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    },
  };
  try {
    capstan('upload-stemcell', await writeStemcell(work));
    writeFileSync(join(work, 'cloud.yml'), CLOUD_CONFIG);
    capstan('-n', 'update-cloud-config', join(work, 'cloud.yml'));
    const releaseDir = join(work, 'release');
    writeRelease(releaseDir);
    chmodSync(releaseDir, 0o755);
    capstan('create-release', '--dir', releaseDir, '--tarball', join(work, 'release.tgz'));
    capstan('upload-release', join(work, 'release.tgz'));
    writeFileSync(join(work, 'manifest.yml'), env.manifest());
    capstan('-n', '-d', DEPLOYMENT, 'deploy', join(work, 'manifest.yml'));
    // The environment's health monitor would resurrect the VMs the tests stop, delete or break on
    // purpose: resurrection stays paused unless a test turns it on.
    await client.request('PUT', '/resurrection', { body: JSON.stringify({ resurrection_paused: true }), contentType: 'application/json' });
  } catch (err) {
    await env.close();
    throw err;
  }
  return env;
}

/** Agent processes of this environment that outlived the test (a failed delete): killed by their dir. */
function killLeftoverAgents(paths: EnvironmentPaths): void {
  const out = spawnSync('pgrep', ['-f', paths.dummyCpi], { encoding: 'utf8' }).stdout ?? '';
  for (const pid of out.split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone
    }
  }
}

export async function eventually<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await sleep(500);
  }
  throw new Error(`${what} did not happen within ${timeoutMs / 1000}s${lastError ? `: ${(lastError as Error).message}` : ''}`);
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

