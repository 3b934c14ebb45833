// Test parts for the health monitor: a PKI, a real nats-server with mutual TLS on a free port,
// a fake director (HTTPS, Basic auth) with the routes the monitor uses, and simulated agents
// publishing heartbeats the way the agent does.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { createServer as createNetServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type NatsConnection } from 'nats';
import { generateCa, issueCertificate, writeKeyPair } from '../../src/environment/certs.js';
import type { DirectorInstance } from '../../src/monitor/agents.js';
import { parseMonitorConfig, type MonitorConfig } from '../../src/monitor/config.js';

export interface Pki {
  dir: string;
  ca: string;
  natsCert: string;
  natsKey: string;
  hmCert: string;
  hmKey: string;
  agentCert: string;
  agentKey: string;
  directorCert: string;
  directorKey: string;
  /** A client certificate for a real agent: CN `<agent_id>.agent.bosh-internal`, as the director issues. */
  agentCertificate(agentId: string): { ca: string; certificate: string; private_key: string };
}

export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'capstan-hm-'));
  const ca = generateCa('Capstan HM Test CA', 2);
  writeFileSync(join(dir, 'ca.pem'), ca.certificate);
  const issue = (name: string, cn: string, usage: 'server' | 'client') => {
    // nats.js checks an IP-addressed server against 'localhost' (see src/environment/certs.ts).
    const server = usage === 'server';
    const pair = issueCertificate(ca, { commonName: cn, dnsNames: server ? [cn, 'localhost'] : [], ipAddresses: server ? ['127.0.0.1'] : [], usage, validDays: 2 });
    writeKeyPair(join(dir, `${name}.pem`), join(dir, `${name}.key`), pair);
  };
  issue('nats', 'default.nats.bosh-internal', 'server');
  issue('hm', 'default.hm.bosh-internal', 'client');
  issue('agent', 'simulated.agent.bosh-internal', 'client');
  issue('director', 'director', 'server');
  const p = (n: string) => join(dir, n);
  return {
    dir,
    ca: p('ca.pem'),
    natsCert: p('nats.pem'),
    natsKey: p('nats.key'),
    hmCert: p('hm.pem'),
    hmKey: p('hm.key'),
    agentCert: p('agent.pem'),
    agentKey: p('agent.key'),
    directorCert: p('director.pem'),
    directorKey: p('director.key'),
    agentCertificate(agentId: string) {
      const pair = issueCertificate(ca, { commonName: `${agentId}.agent.bosh-internal`, usage: 'client', validDays: 2 });
      return { ca: ca.certificate, certificate: pair.certificate, private_key: pair.privateKey };
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** The real nats-server with mutual TLS, on a fixed free port so it can be restarted in place. */
export class NatsServer {
  private child: ChildProcess | undefined;
  readonly url: string;

  private constructor(private readonly pki: Pki, readonly port: number, private readonly configPath: string) {
    this.url = `nats://127.0.0.1:${port}`;
  }

  static async start(pki: Pki): Promise<NatsServer> {
    const port = await freePort();
    const configPath = join(pki.dir, `nats-${port}.conf`);
    writeFileSync(
      configPath,
      [`listen: "127.0.0.1:${port}"`, 'max_payload: 1048576', 'tls {', `  cert_file: "${pki.natsCert}"`, `  key_file: "${pki.natsKey}"`, `  ca_file: "${pki.ca}"`, '  verify: true', '  timeout: 5', '}', ''].join('\n'),
    );
    const server = new NatsServer(pki, port, configPath);
    await server.resume();
    return server;
  }

  async resume(): Promise<void> {
    this.child = spawn('nats-server', ['-c', this.configPath], { stdio: 'ignore' });
    await waitFor('nats-server to listen', () => new Promise<boolean>((resolve) => {
      const s = netConnect(this.port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    }));
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    this.child = undefined;
  }
}

/** Agents as the agent publishes them: one NATS connection, a heartbeat per agent per period. */
export class SimulatedAgents {
  private timer: NodeJS.Timeout | undefined;
  readonly silent = new Set<string>();

  private constructor(readonly nc: NatsConnection, readonly ids: string[], readonly deployment: string) {}

  static async start(pki: Pki, url: string, ids: string[], deployment: string, periodMs: number, reconnectMs = 200): Promise<SimulatedAgents> {
    const nc = await connect({
      servers: url,
      tls: { caFile: pki.ca, certFile: pki.agentCert, keyFile: pki.agentKey },
      maxReconnectAttempts: -1,
      reconnectTimeWait: reconnectMs,
    });
    const agents = new SimulatedAgents(nc, ids, deployment);
    agents.beat();
    agents.timer = setInterval(() => agents.beat(), periodMs);
    return agents;
  }

  beat(): void {
    this.ids.forEach((id, index) => {
      if (!this.silent.has(id)) this.nc.publish(`hm.agent.heartbeat.${id}`, JSON.stringify(heartbeatPayload(this.deployment, index)));
    });
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.nc.close();
  }
}

export function heartbeatPayload(deployment: string, index: number, jobState = 'running') {
  return {
    deployment,
    job: 'web',
    index,
    job_state: jobState,
    vitals: {
      cpu: { user: '1.5', sys: '0.5', wait: '0.0' },
      mem: { kb: '102400', percent: '10' },
      swap: { kb: '0', percent: '0' },
      load: ['0.10', '0.05', '0.01'],
      disk: { system: { percent: '40', inode_percent: '10' }, ephemeral: { percent: '5', inode_percent: '1' } },
      uptime: { secs: 1234 },
    },
    node_id: `instance-${index}`,
    number_of_processes: 1,
  };
}

export interface RecordedRequest {
  method: string;
  url: string;
  body: string;
}

/** The director routes the monitor uses, over HTTPS with Basic auth. */
export class FakeDirector {
  readonly requests: RecordedRequest[] = [];
  deployments: { name: string; locked: boolean; instances: DirectorInstance[] }[] = [];
  tasks: { id: number; description: string; state: string; deployment: string }[] = [];
  resurrectionConfigs: string[] = [];
  private server: Server | undefined;
  port = 0;

  constructor(private readonly pki: Pki, readonly user = 'hm', readonly password = 'hm-secret') {}

  get scanAndFixCalls(): RecordedRequest[] {
    return this.requests.filter((r) => r.method === 'PUT' && r.url.endsWith('/scan_and_fix'));
  }

  async start(port = 0): Promise<void> {
    const { readFileSync } = await import('node:fs');
    const auth = 'Basic ' + Buffer.from(`${this.user}:${this.password}`).toString('base64');
    this.server = createHttpsServer({ cert: readFileSync(this.pki.directorCert), key: readFileSync(this.pki.directorKey) }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const url = req.url ?? '/';
        this.requests.push({ method: req.method ?? 'GET', url, body });
        const json = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
        if (url !== '/info' && req.headers.authorization !== auth) return res.writeHead(401).end('Not authorized');
        const path = url.split('?')[0]!;
        if (path === '/info') return json(200, { name: 'fake', user_authentication: { type: 'basic', options: {} } });
        if (path === '/deployments') return json(200, this.deployments.map((d) => ({ name: d.name, teams: [], locked: d.locked })));
        const instances = /^\/deployments\/([^/]+)\/instances$/.exec(path);
        if (instances) return json(200, this.deployments.find((d) => d.name === decodeURIComponent(instances[1]!))?.instances ?? []);
        if (path === '/configs') return json(200, this.resurrectionConfigs.map((content, id) => ({ id: String(id), type: 'resurrection', name: `r${id}`, content })));
        if (path === '/tasks') return json(200, this.tasks);
        const scan = /^\/deployments\/([^/]+)\/scan_and_fix$/.exec(path);
        if (scan && req.method === 'PUT') {
          const id = this.tasks.length + 100;
          return res.writeHead(302, { location: `/tasks/${id}` }).end();
        }
        if (path === '/events' && req.method === 'POST') return json(200, {});
        res.writeHead(404).end(`Endpoint '${path}' not found.`);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    this.server = undefined;
  }

  /** A deployment whose instances have agents `<prefix>-<i>` with VMs. */
  addDeployment(name: string, agentIds: string[]): void {
    this.deployments.push({
      name,
      locked: false,
      instances: agentIds.map((agentId, index) => ({ agent_id: agentId, cid: `vm-${agentId}`, job: 'web', index, id: `${name}-web-${index}`, az: 'z1', ips: [], vm_created_at: null, expects_vm: true })),
    });
  }
}

/** A monitor config for tests: short intervals, HTTP on a free port, the given plugins. */
export function testMonitorConfig(pki: Pki, natsUrl: string, director: FakeDirector, overrides: Partial<Record<string, unknown>> = {}): MonitorConfig {
  return parseMonitorConfig({
    loglevel: 'warn',
    http: { host: '127.0.0.1', port: 0 },
    mbus: { endpoint: natsUrl, server_ca_path: pki.ca, client_certificate_path: pki.hmCert, client_private_key_path: pki.hmKey, connection_wait_timeout: 10, reconnect_time_wait: 0.2 },
    director: { endpoint: `https://127.0.0.1:${director.port}`, user: director.user, password: director.password, ca_cert: pki.ca },
    intervals: { prune_events: 5, poll_director: 0.5, poll_grace_period: 0.5, log_stats: 60, analyze_agents: 0.5, agent_timeout: 2, rogue_agent_alert: 4, analyze_instances: 0.5, resurrection_config: 0.5 },
    plugins: [],
    ...overrides,
  });
}

export function cleanupPki(pki: Pki): void {
  rmSync(pki.dir, { recursive: true, force: true });
}
