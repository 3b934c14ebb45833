// Test harness: a real nats-server with mutual TLS, an agent child process (-P dummy, spawned monit,
// local blobstore) in its own temp dir, and director-style request helpers.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { createHash, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { makePki } from './certs.js';
import { checkNatsServerIdentity } from '../../src/agent/mbus/nats-handler.js';
import { AGENT_NODE_ENV, AGENT_NODE_FLAGS } from '../../src/agent/node-flags.js';

export const REPO = join(import.meta.dirname, '..', '..');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** The production flags (src/agent/node-flags.ts); CAPSTAN_AGENT_NODE_FLAGS replaces them ("" = none). */
export function agentNodeFlags(): string[] {
  const override = process.env.CAPSTAN_AGENT_NODE_FLAGS;
  return override === undefined ? [...AGENT_NODE_FLAGS] : override.split(' ').filter(Boolean);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000, log?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}: ${String(last ?? '')}\n${log?.().slice(-4000) ?? ''}`);
    await sleep(200);
  }
}

export interface Reply {
  value?: unknown;
  exception?: { message: string };
}

export interface AgentEnvOptions {
  /** Extra settings fields (merged over the defaults). */
  settings?: Record<string, unknown>;
  /** agent flags after -b, e.g. ['-M', 'dummy']. */
  extraFlags?: string[];
  heartbeatMs?: number;
  /** Extra fields of agent.json's Capstan object, e.g. short StopTimeoutSeconds for failure shapes. */
  capstan?: Record<string, unknown>;
  /** PEM bundle nats-server trusts for client certificates besides the harness CA (certificate rotation). */
  extraClientCa?: string;
  /** Serve nats-server's monitoring endpoint (/connz) on monitorPort. */
  natsMonitoring?: boolean;
}

/** One nats-server + one agent identity; the agent process can be (re)started any number of times. */
export class AgentEnv {
  readonly agentId = `agent-${randomUUID().slice(0, 8)}`;
  dir = '';
  base = '';
  blobDir = '';
  natsPort = 0;
  monitorPort = 0;
  client!: NatsConnection;
  agent?: ChildProcess;
  log = '';
  readonly heartbeats: Array<Record<string, unknown>> = [];
  /** performance.now() at each heartbeat's arrival (bench: cold start to first heartbeat). */
  readonly heartbeatTimes: number[] = [];
  readonly alerts: Array<Record<string, unknown>> = [];
  readonly shutdowns: unknown[] = [];
  private nats?: ChildProcess;
  pki = makePki(this.agentId);

  constructor(readonly options: AgentEnvOptions = {}) {}

  async setup(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'capstan-agent-'));
    this.base = join(this.dir, 'vcap');
    this.blobDir = join(this.dir, 'blobstore');
    await mkdir(this.blobDir, { recursive: true });
    const certs = join(this.dir, 'certs');
    await mkdir(certs);
    await writeFile(join(certs, 'nats.pem'), this.pki.nats.cert);
    await writeFile(join(certs, 'nats.key'), this.pki.nats.key);
    await writeFile(join(certs, 'ca.pem'), this.pki.ca + (this.options.extraClientCa ?? ''));
    this.natsPort = await freePort();
    if (this.options.natsMonitoring) this.monitorPort = await freePort();
    const monitoring = this.options.natsMonitoring ? `http: 127.0.0.1:${this.monitorPort}\n` : '';
    await writeFile(
      join(this.dir, 'nats.conf'),
      `listen: 127.0.0.1:${this.natsPort}\n${monitoring}tls {\n  cert_file: "${certs}/nats.pem"\n  key_file: "${certs}/nats.key"\n  ca_file: "${certs}/ca.pem"\n  verify: true\n  timeout: 5\n}\n`,
    );
    this.nats = spawn('nats-server', ['-c', join(this.dir, 'nats.conf')], { stdio: ['ignore', 'ignore', 'ignore'] });
    const tls = { ca: this.pki.ca, cert: this.pki.director.cert, key: this.pki.director.key, checkServerIdentity: checkNatsServerIdentity } as never;
    this.client = await waitFor('nats-server', async () => connect({ servers: `127.0.0.1:${this.natsPort}`, tls }), 15_000);
    this.collect(`hm.agent.heartbeat.${this.agentId}`, this.heartbeats, this.heartbeatTimes);
    this.collect(`hm.agent.alert.${this.agentId}`, this.alerts);
    this.collect(`hm.agent.shutdown.${this.agentId}`, this.shutdowns);
    await this.writeConfig();
  }

  private collect(subject: string, into: unknown[], times?: number[]): void {
    const sub = this.client.subscribe(subject);
    void (async () => {
      for await (const m of sub) {
        times?.push(performance.now());
        into.push(JSON.parse(new TextDecoder().decode(m.data)));
      }
    })();
  }

  settingsJson(): Record<string, unknown> {
    return {
      agent_id: this.agentId,
      blobstore: { provider: 'local', options: { blobstore_path: this.blobDir } },
      disks: { system: '/dev/sda', persistent: {} },
      env: { bosh: { mbus: { cert: { ca: this.pki.ca, certificate: this.pki.agent.cert, private_key: this.pki.agent.key } } } },
      networks: { default: { type: 'manual', ip: '10.245.0.10', netmask: '255.255.255.0', gateway: '10.245.0.1', default: ['dns', 'gateway'] } },
      ntp: [],
      mbus: `nats://127.0.0.1:${this.natsPort}`,
      vm: { name: 'vm-test-1' },
      ...this.options.settings,
    };
  }

  async writeConfig(): Promise<void> {
    await writeFile(join(this.dir, 'settings.json'), JSON.stringify(this.settingsJson()));
    await writeFile(
      join(this.dir, 'agent.json'),
      JSON.stringify({
        Platform: { Linux: {} },
        Infrastructure: { Settings: { Sources: [{ Type: 'File', SettingsPath: join(this.dir, 'settings.json') }] } },
        Capstan: { MonitPort: await freePort(), AlertSmtpPort: await freePort(), Monit: 'spawn', MonitPollSeconds: 1, ...this.options.capstan },
      }),
    );
  }

  /** Starts the agent process and waits until it answers ping over NATS. */
  async startAgent(): Promise<ChildProcess> {
    const agent = this.spawnAgent();
    await waitFor('ping', async () => ((await this.request('ping', [], 1000)).value === 'pong' ? true : undefined), 60_000, () => this.log);
    return agent;
  }

  /** Starts the agent process without waiting for it. */
  spawnAgent(): ChildProcess {
    const entry = process.env.CAPSTAN_AGENT_BUNDLE ? [process.env.CAPSTAN_AGENT_BUNDLE] : ['--import', 'tsx', 'src/agent/main.ts'];
    const nodeFlags = agentNodeFlags();
    // CAPSTAN_AGENT_NODE=/path/to/node18 with CAPSTAN_AGENT_BUNDLE checks the bundle on the stemcell's Node.
    const agent = spawn(process.env.CAPSTAN_AGENT_NODE ?? process.execPath, [...nodeFlags, ...entry, '-P', 'dummy', '-C', join(this.dir, 'agent.json'), '-b', this.base, ...(this.options.extraFlags ?? [])], {
      cwd: REPO,
      env: { ...AGENT_NODE_ENV, ...process.env, CAPSTAN_HEARTBEAT_INTERVAL_MS: String(this.options.heartbeatMs ?? 1000) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    agent.stdout!.on('data', (c: Buffer) => (this.log += c.toString()));
    agent.stderr!.on('data', (c: Buffer) => (this.log += c.toString()));
    this.agent = agent;
    return agent;
  }

  async waitForExit(timeoutMs = 30_000): Promise<number | null> {
    const agent = this.agent;
    if (!agent || agent.exitCode !== null || agent.signalCode !== null) return agent?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => agent.once('exit', (code) => r(code)));
    return Promise.race([exited, sleep(timeoutMs).then(() => null)]);
  }

  async stopAgent(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const agent = this.agent;
    if (!agent || agent.exitCode !== null || agent.signalCode !== null) return agent?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => agent.once('exit', (code) => r(code)));
    agent.kill(signal);
    const code = await Promise.race([exited, sleep(30_000).then(() => 'timeout' as const)]);
    if (code === 'timeout') {
      agent.kill('SIGKILL');
      return null;
    }
    return code;
  }

  async teardown(): Promise<void> {
    await this.stopAgent();
    await this.client?.close();
    if (this.nats && this.nats.exitCode === null) {
      const exited = new Promise((r) => this.nats!.once('exit', r));
      this.nats.kill('SIGTERM');
      await exited;
    }
    if (process.env.AGENT_TEST_DEBUG) console.error(this.log.slice(-5000));
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  /** Raw body publish (no reply expected). */
  publishRaw(body: string): void {
    this.client.publish(`agent.${this.agentId}`, body);
  }

  /** One request/response like the director's NATS RPC: reply_to inside the body. */
  async request(method: string, args: unknown[] = [], timeoutMs = 15_000, protocol = 3): Promise<Reply> {
    const replyTo = `director.test.${this.agentId}.${randomUUID()}`;
    const sub = this.client.subscribe(replyTo, { max: 1, timeout: timeoutMs });
    this.client.publish(`agent.${this.agentId}`, JSON.stringify({ protocol, method, arguments: args, reply_to: replyTo }));
    for await (const msg of sub) return JSON.parse(new TextDecoder().decode(msg.data)) as Reply;
    throw new Error(`no reply to ${method}`);
  }

  /** Calls a method; async handles are polled with get_task until they finish, as the director does. */
  async call(method: string, args: unknown[] = [], protocol = 3): Promise<unknown> {
    const res = await this.request(method, args, 15_000, protocol);
    if (res.exception) throw new Error(res.exception.message);
    const value = res.value as { agent_task_id?: string; state?: string };
    if (!value || typeof value !== 'object' || !value.agent_task_id || value.state !== 'running') return res.value;
    return this.pollTask(value.agent_task_id);
  }

  async pollTask(id: string): Promise<unknown> {
    for (;;) {
      await sleep(100);
      const polled = await this.request('get_task', [id]);
      if (polled.exception) throw new Error(polled.exception.message);
      const v = polled.value as { state?: string };
      if (!(v && typeof v === 'object' && v.state === 'running')) return polled.value;
    }
  }
}

export const sha1 = (data: Buffer | string) => createHash('sha1').update(data).digest('hex');
export const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
export const sha512 = (data: Buffer | string) => createHash('sha512').update(data).digest('hex');

/** gzip tar of `entries` under srcDir; returns the tarball's bytes. */
export function tgz(srcDir: string, dest: string, entries: string[], extra: string[] = []): Buffer {
  execFileSync('tar', ['-czf', dest, ...extra, '-C', srcDir, ...entries]);
  return execFileSync('cat', [dest]);
}

export interface TestJobOptions {
  /** The job process is `sleep <sleepArg>`, so that tests can find it with ps. */
  sleepArg: number;
  /** Extra files under bin/ (pre-start, drain, run, ...), by name. */
  scripts?: Record<string, string>;
  /** Extra lines of the monit check (e.g. a stop timeout). */
  monitLines?: string[];
  /** Replaces the whole monit file (e.g. a broken one). */
  monit?: string;
}

/**
 * A rendered templates archive (with the `./<job>/` prefix the blobstore path produces) for one job
 * that monit runs as a `sleep` through bin/ctl, stored in the local blobstore as `blobId`.
 */
export async function renderedJobBlob(env: AgentEnv, blobId: string, job: string, options: TestJobOptions): Promise<Buffer> {
  const work = join(env.dir, 'build', blobId);
  const jobDir = join(work, job);
  await mkdir(join(jobDir, 'bin'), { recursive: true });
  const run = join(env.base, 'sys', 'run', job);
  const ctl = `${env.base}/jobs/${job}/bin/ctl`;
  const monit = options.monit ?? [`check process ${job}`, `  with pidfile ${run}/${job}.pid`, `  start program "${ctl} start"`, `  stop program "${ctl} stop"`, ...(options.monitLines ?? []), '  group vcap', ''].join('\n');
  await writeFile(join(jobDir, 'monit'), monit);
  await writeFile(
    join(jobDir, 'bin', 'ctl'),
    [
      '#!/bin/bash',
      `RUN=${run}`,
      'case "$1" in',
      `  start) mkdir -p $RUN; setsid sleep ${options.sleepArg} </dev/null >/dev/null 2>&1 & echo $! > $RUN/${job}.pid ;;`,
      // the stop hangs while <dir>/stuck-stop exists: the stop failure shape
      `  stop) while [ -f ${env.dir}/stuck-stop ]; do sleep 0.2; done; kill "$(cat $RUN/${job}.pid)"; rm -f $RUN/${job}.pid ;;`,
      'esac',
      '',
    ].join('\n'),
  );
  for (const [name, text] of Object.entries(options.scripts ?? {})) await writeFile(join(jobDir, 'bin', name), text);
  const archive = tgz(work, join(env.dir, 'build', `${blobId}.tgz`), [`./${job}`]);
  await writeFile(join(env.blobDir, blobId), archive);
  return archive;
}

/** A tarball of `files` (name -> content, entries `./name`) stored in the local blobstore as `blobId`. */
export async function tarballBlob(env: AgentEnv, blobId: string, files: Record<string, string>): Promise<Buffer> {
  const work = join(env.dir, 'build', blobId);
  await mkdir(work, { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(join(work, name), text);
  const blob = tgz(work, join(env.dir, 'build', `${blobId}.tgz`), ['.']);
  await writeFile(join(env.blobDir, blobId), blob);
  return blob;
}
