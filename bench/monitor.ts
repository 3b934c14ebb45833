// Health monitor throughput: simulated agents publish heartbeats through a real nats-server
// (mutual TLS, loopback) to a real monitor process pinned to one core; the monitor knows the
// agents from a fake director, as in production. Prints the processed rate and the lag
// (publish -> processed) for (1) 50,000 agents every 30 s and (2) rising fixed rates, and the
// highest rate sustained with lag under 1 s.
//
//   npm run bench -- monitor [--agents 50000] [--realistic-seconds 30] [--step-seconds 8]
//                            [--rates 25000,50000,75000,100000,125000]
//
// One file, three roles (parent, monitor child, publisher child), chosen by CAPSTAN_BENCH_ROLE.
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { connect } from 'nats';

interface Sample {
  t: number;
  n: number;
}

const ROLE = process.env.CAPSTAN_BENCH_ROLE ?? 'parent';
const SELF = fileURLToPath(import.meta.url);

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const agentId = (i: number) => `0e4c2b6a-${String(i).padStart(4, '0').slice(-4)}-4c1d-9a7e-${String(i).padStart(12, '0')}`;

function heartbeat(i: number): string {
  return JSON.stringify({
    deployment: 'bench',
    job: 'web',
    index: i,
    job_state: 'running',
    vitals: {
      cpu: { user: '2.1', sys: '0.9', wait: '0.0' },
      mem: { kb: '523412', percent: '13' },
      swap: { kb: '0', percent: '0' },
      load: ['0.12', '0.08', '0.05'],
      disk: { system: { percent: '41', inode_percent: '12' }, ephemeral: { percent: '3', inode_percent: '1' } },
      uptime: { secs: 86400 + i },
    },
    node_id: `instance-${i}`,
    number_of_processes: 3,
  });
}

// ---- monitor child: the real monitor, reporting its processed count every 50 ms ----
async function monitorRole(): Promise<void> {
  const { parseMonitorConfig } = await import('../src/monitor/config.js');
  const { startMonitor } = await import('../src/monitor/monitor.js');
  const { createLogger } = await import('../src/common/logging.js');
  const config = parseMonitorConfig(JSON.parse(process.env.CAPSTAN_BENCH_CONFIG!));
  const monitor = await startMonitor(config, createLogger('bench-monitor', undefined, 'error'));
  const report = () => process.send!({ type: 'processed', t: Date.now(), n: monitor.registry.heartbeatsReceived, agents: monitor.registry.agents.size, synced: monitor.poller.synced, cpu: process.cpuUsage() });
  setInterval(report, 50);
  process.on('message', (m: { type: string }) => {
    if (m.type === 'stop') void monitor.close().then(() => process.exit(0));
  });
  report();
}

// ---- publisher child: heartbeats for its share of agents at a paced rate ----
async function publisherRole(): Promise<void> {
  const { url, ca, cert, key, first, count } = JSON.parse(process.env.CAPSTAN_BENCH_PUB!) as { url: string; ca: string; cert: string; key: string; first: number; count: number };
  const nc = await connect({ servers: url, tls: { caFile: ca, certFile: cert, keyFile: key } });
  const encoder = new TextEncoder();
  const subjects = Array.from({ length: count }, (_, i) => `hm.agent.heartbeat.${agentId(first + i)}`);
  const payloads = Array.from({ length: count }, (_, i) => encoder.encode(heartbeat(first + i)));
  let rate = 0;
  let sent = 0;
  let phaseStart = Date.now();
  let phaseSent = 0;
  let next = 0;
  process.on('message', (m: { type: string; rate?: number }) => {
    if (m.type === 'rate') {
      rate = m.rate!;
      phaseStart = Date.now();
      phaseSent = 0;
    }
    if (m.type === 'stop') void nc.drain().then(() => process.exit(0));
  });
  setInterval(() => process.send!({ type: 'published', t: Date.now(), n: sent }), 50);
  const tick = () => {
    const due = Math.floor((rate * (Date.now() - phaseStart)) / 1000) - phaseSent;
    for (let k = 0; k < due; k++) {
      nc.publish(subjects[next]!, payloads[next]!);
      next = (next + 1) % count;
    }
    sent += Math.max(0, due);
    phaseSent += Math.max(0, due);
    setTimeout(tick, 5);
  };
  process.send!({ type: 'ready' });
  tick();
}

// ---- parent: environment, phases, figures ----
function pin(pid: number, cpus: string): void {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
  } catch {
    // no taskset: run unpinned
  }
}

function lagAt(published: Sample[], processedN: number, t: number): number {
  // Earliest moment the publishers had published at least processedN heartbeats.
  let lo = 0;
  let hi = published.length - 1;
  if (hi < 0 || published[hi]!.n < processedN) return 0;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (published[mid]!.n >= processedN) hi = mid;
    else lo = mid + 1;
  }
  return Math.max(0, t - published[lo]!.t);
}

const percentile = (values: number[], p: number) => {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

/** The monitor's own per-heartbeat work (parse, registry update), without NATS: an upper bound. */
async function intakeOnly(agents: number, count: number): Promise<number> {
  const { AgentRegistry } = await import('../src/monitor/agents.js');
  const { EventProcessor } = await import('../src/monitor/event-processor.js');
  const { Intake } = await import('../src/monitor/intake.js');
  const { createLogger } = await import('../src/common/logging.js');
  const logger = createLogger('bench-intake', undefined, 'error');
  const registry = new AgentRegistry();
  const instances = Array.from({ length: agents }, (_, i) => ({ agent_id: agentId(i), cid: `vm-${i}`, job: 'web', index: i, id: `web-${i}`, expects_vm: true }));
  registry.syncDeployments([{ name: 'bench', teams: [], locked: false, instances }], Date.now());
  const intake = new Intake(registry, new EventProcessor(logger), logger);
  const encoder = new TextEncoder();
  const subjects = instances.map((i) => `hm.agent.heartbeat.${i.agent_id}`);
  const payloads = instances.map((_, i) => encoder.encode(heartbeat(i)));
  const start = process.hrtime.bigint();
  for (let k = 0; k < count; k++) intake.heartbeat(subjects[k % agents]!, payloads[k % agents]!);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return Math.round(count / seconds);
}

async function parentRole(): Promise<void> {
  const agents = Number(arg('agents', '50000'));
  const realisticSeconds = Number(arg('realistic-seconds', '30'));
  const stepSeconds = Number(arg('step-seconds', '8'));
  const rates = arg('rates', '25000,50000,75000,100000,125000').split(',').map(Number);
  const cpus = Number(execFileSync('nproc').toString().trim());
  const monitorCpu = '0';
  const otherCpus = cpus > 1 ? `1-${cpus - 1}` : '0';
  pin(process.pid, otherCpus); // nats-server, the fake director and the publishers inherit this

  const { makePki, NatsServer, FakeDirector, cleanupPki } = await import('../test/monitor/helpers.js');
  const pki = makePki();
  const nats = await NatsServer.start(pki);
  const director = new FakeDirector(pki);
  await director.start();
  director.addDeployment('bench', Array.from({ length: agents }, (_, i) => agentId(i)));

  const config = {
    loglevel: 'error',
    http: { host: '127.0.0.1', port: 0 },
    mbus: { endpoint: nats.url, server_ca_path: pki.ca, client_certificate_path: pki.hmCert, client_private_key_path: pki.hmKey },
    director: { endpoint: `https://127.0.0.1:${director.port}`, user: director.user, password: director.password, ca_cert: pki.ca },
    plugins: [],
  };
  const children: ChildProcess[] = [];
  const published = new Map<number, Sample>();
  let publishedLog: Sample[] = [];
  let processed: Sample & { agents: number; synced: boolean; cpu: NodeJS.CpuUsage } = { t: 0, n: 0, agents: 0, synced: false, cpu: { user: 0, system: 0 } };
  const processedLog: (Sample & { cpu: NodeJS.CpuUsage })[] = [];

  const monitor = fork(SELF, [], { env: { ...process.env, CAPSTAN_BENCH_ROLE: 'monitor', CAPSTAN_BENCH_CONFIG: JSON.stringify(config) }, execArgv: ['--import', 'tsx'] });
  children.push(monitor);
  pin(monitor.pid!, monitorCpu);
  monitor.on('message', (m: typeof processed & { type: string }) => {
    processed = m;
    processedLog.push({ t: m.t, n: m.n, cpu: m.cpu });
  });

  const publisherCount = Math.max(1, Math.min(3, cpus - 1));
  const share = Math.ceil(agents / publisherCount);
  const publishers: ChildProcess[] = [];
  let ready = 0;
  for (let p = 0; p < publisherCount; p++) {
    const first = p * share;
    const pub = { url: nats.url, ca: pki.ca, cert: pki.agentCert, key: pki.agentKey, first, count: Math.min(share, agents - first) };
    const child = fork(SELF, [], { env: { ...process.env, CAPSTAN_BENCH_ROLE: 'publisher', CAPSTAN_BENCH_PUB: JSON.stringify(pub) }, execArgv: ['--import', 'tsx'] });
    children.push(child);
    publishers.push(child);
    child.on('message', (m: { type: string; t: number; n: number }) => {
      if (m.type === 'ready') ready++;
      if (m.type === 'published') {
        published.set(p, { t: m.t, n: m.n });
        let total = 0;
        for (const s of published.values()) total += s.n;
        publishedLog.push({ t: m.t, n: total });
      }
    });
  }

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const until = async (what: string, fn: () => boolean, ms = 120_000) => {
    const deadline = Date.now() + ms;
    while (!fn()) {
      if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
      await sleep(50);
    }
  };
  const cleanup = async () => {
    for (const c of children) c.send({ type: 'stop' });
    await sleep(500);
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await director.stop();
    await nats.stop();
    cleanupPki(pki);
  };

  try {
    await until('the monitor to sync with the director', () => processed.synced && processed.agents >= agents);
    await until('the publishers', () => ready === publisherCount);
    const sharedRate = (rate: number) => publishers.forEach((c) => c.send({ type: 'rate', rate: rate / publisherCount }));

    const phase = async (rate: number, seconds: number) => {
      const startN = processed.n;
      const startCpu = processed.cpu;
      const startT = Date.now();
      sharedRate(rate);
      const lags: number[] = [];
      const end = startT + seconds * 1000;
      while (Date.now() < end) {
        await sleep(100);
        lags.push(lagAt(publishedLog, processed.n, processed.t));
      }
      const t1 = processed.t;
      const n1 = processed.n;
      const cpu = processed.cpu;
      sharedRate(0);
      const publishedTotal = publishedLog.at(-1)?.n ?? 0;
      await until('the monitor to drain', () => processed.n >= publishedTotal, 30_000).catch(() => {});
      const drop = Math.max(0, publishedTotal - processed.n);
      const elapsed = (t1 - startT) / 1000;
      const cpuPct = ((cpu.user - startCpu.user + cpu.system - startCpu.system) / 1e6 / elapsed) * 100;
      publishedLog = publishedLog.slice(-1);
      return { rate, processedRate: Math.round((n1 - startN) / elapsed), p50: percentile(lags, 50), p99: percentile(lags, 99), max: Math.max(0, ...lags), cpuPct: Math.round(cpuPct), drop };
    };
    const line = (r: Awaited<ReturnType<typeof phase>>, label: string) =>
      console.log(`${label.padEnd(34)} processed ${String(r.processedRate).padStart(7)}/s  lag p50 ${String(r.p50).padStart(5)} ms  p99 ${String(r.p99).padStart(5)} ms  max ${String(r.max).padStart(5)} ms  monitor CPU ${String(r.cpuPct).padStart(3)}%${r.drop ? `  NOT DELIVERED ${r.drop}` : ''}`);

    console.log(`Intake alone (JSON.parse + registry update, no NATS), one core: ${await intakeOnly(agents, 1_000_000)} heartbeats/s`);
    console.log(`Health monitor bench: ${agents} agents known from the director, nats-server with mutual TLS on loopback, ${publisherCount} publisher process(es); monitor pinned to CPU ${monitorCpu} of ${cpus}.`);
    const realistic = await phase(agents / 30, realisticSeconds);
    line(realistic, `${agents} agents every 30 s (${Math.round(agents / 30)}/s)`);
    let best = 0;
    for (const rate of rates) {
      const r = await phase(rate, stepSeconds);
      line(r, `offered ${rate}/s for ${stepSeconds} s`);
      if (r.max < 1000 && r.drop === 0 && r.processedRate >= rate * 0.97) best = Math.max(best, r.processedRate);
    }
    console.log(`Sustained with lag < 1 s: ${best} heartbeats/s (target 50000).`);
  } finally {
    await cleanup();
  }
}

const roles: Record<string, () => Promise<void>> = { parent: parentRole, monitor: monitorRole, publisher: publisherRole };
if (!existsSync(SELF) || !roles[ROLE]) throw new Error(`unknown bench role ${ROLE}`);
await roles[ROLE]!();
