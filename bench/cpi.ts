// create_vm -> first agent ping: how long until a new VM's agent answers the director over NATS.
// Real parts: nats-server with mutual TLS (certs generated here), the real Capstan agent (bundled
// fresh from src/agent), the docker CPI with a stemcell assembled from the cached base rootfs, and the
// dummy CPI at 1 and 50 VMs. The director side pings every 100 ms (BOSH pings every 1 s).
//
//   npm run bench -- cpi [--dummy-vms 50] [--docker-vms 3] [--skip-docker]
//
// Docker is skipped, with the reason, when no engine answers or no base rootfs is cached
// (`capstan stemcell build` makes one).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, StringCodec, type NatsConnection } from 'nats';
import { createLogger } from '../src/common/logging.js';
import type { NetworkSettings } from '../src/common/protocol.js';
import type { Cpi, VmEnv } from '../src/cpi/cpi.js';
import { DockerCpi } from '../src/cpi/docker/docker-cpi.js';
import { ensureNetwork, removeNetwork } from '../src/cpi/docker/network.js';
import { DummyCpi } from '../src/cpi/dummy/dummy-cpi.js';
import { buildAgentBundle } from '../src/stemcell/agent-bundle.js';
import { buildStemcell } from '../src/stemcell/builder.js';
import { baseRootfsKey, DEBIAN_SUITE } from '../src/stemcell/rootfs.js';
import { readStemcellTarball } from '../src/stemcell/tarball.js';
import { generateCa, issueCertificate, type KeyPair } from '../src/environment/certs.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const DUMMY_VMS = Number(arg('dummy-vms', '50'));
const DOCKER_VMS = Number(arg('docker-vms', '3'));
const PING_TIMEOUT_MS = 120_000;
const log = createLogger('bench-cpi', undefined, 'warn');
const work = mkdtempSync(join(tmpdir(), 'capstan-bench-cpi-'));
const ca = generateCa('Capstan bench CA');
const blobstore = { provider: 'dav', options: { endpoint: 'https://127.0.0.1:1', user: 'agent', password: 'unused' } };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface Nats {
  url: string;
  client: NatsConnection;
  process: ChildProcess;
}

/** nats-server on host:port with mutual TLS, and the director's client connection to it. */
async function startNats(host: string): Promise<Nats> {
  const dir = join(work, `nats-${host}`);
  mkdirSync(dir, { recursive: true });
  const server = issueCertificate(ca, { commonName: 'default.nats.bosh-internal', ipAddresses: [host], usage: 'server' });
  const director = issueCertificate(ca, { commonName: 'default.director.bosh-internal', usage: 'client' });
  writeFileSync(join(dir, 'ca.pem'), ca.certificate);
  writeFileSync(join(dir, 'server.pem'), server.certificate);
  writeFileSync(join(dir, 'server.key'), server.privateKey, { mode: 0o600 });
  const port = await freePort();
  writeFileSync(
    join(dir, 'nats.conf'),
    `listen: "${host}:${port}"\ntls {\n  cert_file: "${dir}/server.pem"\n  key_file: "${dir}/server.key"\n  ca_file: "${dir}/ca.pem"\n  verify: true\n}\n`,
  );
  const child = spawn('nats-server', ['-c', join(dir, 'nats.conf')], { stdio: 'ignore' });
  const url = `nats://${host}:${port}`;
  for (let i = 0; ; i++) {
    try {
      const client = await connect({
        servers: url,
        tls: { ca: ca.certificate, cert: director.certificate, key: director.privateKey, checkServerIdentity: () => undefined } as never,
      });
      return { url, client, process: child };
    } catch (err) {
      if (i > 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function stopNats(nats: Nats): Promise<void> {
  await nats.client.close();
  nats.process.kill('SIGTERM');
}

/** Pings agent.<id> every 100 ms until it answers "pong"; resolves with the time of the answer. */
async function firstPong(nats: Nats, agentId: string): Promise<number> {
  const sc = StringCodec();
  const inbox = `director.bench.${agentId}`;
  const sub = nats.client.subscribe(inbox, { max: 1 });
  const answered = (async () => {
    for await (const msg of sub) {
      const reply = JSON.parse(sc.decode(msg.data)) as { value?: unknown };
      if (reply.value === 'pong') return performance.now();
    }
    throw new Error(`agent ${agentId}: no pong`);
  })();
  const deadline = performance.now() + PING_TIMEOUT_MS;
  let done = false;
  const pinger = (async () => {
    while (!done && performance.now() < deadline) {
      nats.client.publish(`agent.${agentId}`, sc.encode(JSON.stringify({ protocol: 3, method: 'ping', arguments: [], reply_to: inbox })));
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!done) sub.unsubscribe();
  })();
  try {
    return await answered;
  } finally {
    done = true;
    await pinger;
  }
}

interface Timing {
  createVmMs: number;
  pingMs: number; // from the start of create_vm
}

function agentEnv(agentId: string): VmEnv {
  const cert: KeyPair = issueCertificate(ca, { commonName: `${agentId}.agent.bosh-internal`, usage: 'client' });
  return { bosh: { mbus: { cert: { ca: ca.certificate, certificate: cert.certificate, private_key: cert.privateKey } }, group: 'bench' } };
}

/** An agent id with its mbus certificate: the director issues it before create_vm, so it is not timed. */
function newAgent(): { agentId: string; env: VmEnv } {
  const agentId = randomUUID();
  return { agentId, env: agentEnv(agentId) };
}

async function createAndPing(
  cpi: Cpi,
  nats: Nats,
  stemcellCid: string,
  networks: Record<string, NetworkSettings>,
  vms: string[],
  { agentId, env } = newAgent(),
): Promise<Timing> {
  const start = performance.now();
  const pong = firstPong(nats, agentId);
  const vmCid = await cpi.createVm(agentId, stemcellCid, {}, networks, [], env);
  vms.push(vmCid);
  const created = performance.now();
  return { createVmMs: created - start, pingMs: (await pong) - start };
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function benchDummy(agentBundle: string): Promise<void> {
  const nats = await startNats('127.0.0.1');
  const cpi = new DummyCpi({ baseDir: join(work, 'dummy'), agent: { mbus: nats.url, blobstore }, agentBundlePath: agentBundle, logger: log });
  const stemcellCid = await cpi.createStemcell('/dev/null', {});
  const vms: string[] = [];
  const network = (i: number) => ({ default: { type: 'manual' as const, ip: `10.0.${Math.floor(i / 250)}.${(i % 250) + 2}`, netmask: '255.255.0.0', gateway: '10.0.0.1' } });
  try {
    const one = await createAndPing(cpi, nats, stemcellCid, network(0), vms);
    console.log(`dummy   1 VM : create_vm ${s(one.createVmMs)}, create_vm -> first ping ${s(one.pingMs)}`);
    await Promise.all(vms.splice(0).map((vm) => cpi.deleteVm(vm)));
    const agents = Array.from({ length: DUMMY_VMS }, newAgent);
    const started = performance.now();
    const all = await Promise.all(agents.map((agent, i) => createAndPing(cpi, nats, stemcellCid, network(i + 1), vms, agent)));
    const pings = all.map((t) => t.pingMs);
    console.log(
      `dummy  ${String(DUMMY_VMS).padStart(2)} VMs: create_vm -> first ping median ${s(percentile(pings, 50))}, p90 ${s(percentile(pings, 90))}, ` +
        `max ${s(Math.max(...pings))}; all ${DUMMY_VMS} answering after ${s(performance.now() - started)}`,
    );
  } finally {
    await Promise.all(vms.map((vm) => cpi.deleteVm(vm).catch(() => {})));
    await stopNats(nats);
  }
}

function dockerSkipReason(baseTar: string): string | undefined {
  if (process.argv.includes('--skip-docker')) return '--skip-docker';
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 20_000 });
  } catch {
    return 'no Docker engine answers';
  }
  if (!existsSync(baseTar)) return `no cached base rootfs at ${baseTar} (run 'capstan stemcell build')`;
  return undefined;
}

async function benchDocker(agentBundle: string): Promise<void> {
  const sharedCache = join(process.env.CAPSTAN_HOME ?? join(homedir(), '.capstan'), 'cache');
  const baseName = `base-rootfs-${DEBIAN_SUITE}-${baseRootfsKey()}.tar`;
  const skip = dockerSkipReason(join(sharedCache, baseName));
  if (skip) {
    console.log(`docker      : skipped (${skip})`);
    return;
  }
  // a cache of the bench's own (sharing the base rootfs) so the user's stemcell cache is untouched
  const cacheDir = join(work, 'cache');
  mkdirSync(cacheDir);
  for (const name of [baseName, `${baseName}.sha256`]) symlinkSync(join(sharedCache, name), join(cacheDir, name));
  const built = await buildStemcell({ cacheDir, agentBundlePath: agentBundle });
  await readStemcellTarball(built.tarballPath, join(work, 'stemcell'));

  const octet = 10 + (process.pid % 190);
  const net = { name: `capstan-bench-${process.pid}`, subnet: `10.246.${octet}.0/24`, gateway: `10.246.${octet}.1` };
  await ensureNetwork(net);
  const nats = await startNats(net.gateway);
  const cpi = new DockerCpi({ agent: { mbus: nats.url, blobstore }, network: net.name, subnet: net.subnet, gateway: net.gateway, logger: log });
  const stemcellCid = await cpi.createStemcell(join(work, 'stemcell', 'image'), {});
  const vms: string[] = [];
  try {
    for (let i = 0; i < DOCKER_VMS; i++) {
      const networks = { default: { type: 'manual' as const, ip: `10.246.${octet}.${10 + i}`, netmask: '255.255.255.0', gateway: net.gateway, default: ['dns', 'gateway'] } };
      const t = await createAndPing(cpi, nats, stemcellCid, networks, vms);
      console.log(`docker  VM ${i + 1}: create_vm ${s(t.createVmMs)}, create_vm -> first ping ${s(t.pingMs)}${t.pingMs < 2000 ? '' : '  (target: under 2 s)'}`);
    }
  } finally {
    for (const vm of vms) await cpi.deleteVm(vm).catch(() => {});
    await cpi.deleteStemcell(stemcellCid).catch(() => {});
    await stopNats(nats);
    await removeNetwork(net.name);
  }
}

try {
  const agentBundle = await buildAgentBundle(join(work, 'capstan-agent.cjs'));
  console.log(`create_vm -> first agent ping (nats-server with mutual TLS, Capstan agent from src/agent)`);
  await benchDocker(agentBundle);
  await benchDummy(agentBundle);
} finally {
  rmSync(work, { recursive: true, force: true });
}
