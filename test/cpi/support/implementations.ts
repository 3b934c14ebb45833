// The CPI implementations the conformance suite runs against, each with what a test needs to make a
// VM: a stemcell image, networks, and a cleanup. Docker is skipped only when no engine answers.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { build } from 'esbuild';
import type { NetworkSettings } from '../../../src/common/protocol.js';
import { createLogger } from '../../../src/common/logging.js';
import type { DiskCpi } from '../../../src/cpi/cpi.js';
import { DockerCpi } from '../../../src/cpi/docker/docker-cpi.js';
import { removeNetwork } from '../../../src/cpi/docker/network.js';
import { DummyCpi } from '../../../src/cpi/dummy/dummy-cpi.js';
import { ExternalCpi } from '../../../src/cpi/external.js';
import { buildTinyRootfs } from '../tiny-rootfs.js';

export interface CpiUnderTest {
  cpi: DiskCpi;
  /** A stemcell image file createStemcell accepts. */
  image: string;
  /** Networks for the n-th VM of a test run (distinct IPs). */
  networks(n: number): Record<string, NetworkSettings>;
  /** What the external CPI's log sink received. */
  cpiLog?: string[];
  cleanup(): Promise<void>;
}

export interface Implementation {
  name: string;
  skip: string | false;
  setup(): Promise<CpiUnderTest>;
}

export function dockerAvailable(): boolean {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

const quiet = (name: string) => createLogger(name, undefined, 'warn');

// Stands in for the agent: stays up until SIGTERM.
export const FAKE_AGENT = "process.on('SIGTERM', () => process.exit(0)); setInterval(() => {}, 1000);\n";

const agent = { mbus: 'nats://127.0.0.1:4222', blobstore: { provider: 'dav', options: { endpoint: 'https://127.0.0.1:25250' } } };
const dummyNetworks = (n: number): Record<string, NetworkSettings> => ({
  default: { type: 'manual', ip: `10.0.0.${10 + n}`, netmask: '255.255.255.0', gateway: '10.0.0.1', default: ['dns', 'gateway'] },
});

function dummy(): Implementation {
  return {
    name: 'dummy',
    skip: false,
    async setup() {
      const dir = mkdtempSync(join(tmpdir(), 'capstan-conformance-dummy-'));
      writeFileSync(join(dir, 'agent.cjs'), FAKE_AGENT);
      writeFileSync(join(dir, 'image'), 'dummy stemcell image\n');
      const cpi = new DummyCpi({ baseDir: join(dir, 'cpi'), agent, agentBundlePath: join(dir, 'agent.cjs'), logger: quiet('dummy-cpi') });
      return { cpi, image: join(dir, 'image'), networks: dummyNetworks, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  };
}

const repoRoot = resolve(fileURLToPath(import.meta.url), '../../../..');

/** The dummy CPI as an executable speaking the JSON protocol, run by ExternalCpi. */
function external(apiVersion: number): Implementation {
  return {
    name: `external (API v${apiVersion})`,
    skip: false,
    async setup() {
      const dir = mkdtempSync(join(tmpdir(), 'capstan-conformance-external-'));
      writeFileSync(join(dir, 'agent.cjs'), FAKE_AGENT);
      writeFileSync(join(dir, 'image'), 'dummy stemcell image\n');
      const config = { base_dir: join(dir, 'cpi'), agent_bundle: join(dir, 'agent.cjs'), agent, api_version: apiVersion };
      writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
      // bundled once, so each call starts in milliseconds rather than compiling TypeScript
      const bundle = join(dir, 'test-cpi.mjs');
      await build({
        entryPoints: [join(repoRoot, 'test/cpi/support/test-cpi.ts')],
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node18',
        outfile: bundle,
        // the bundled CommonJS dependencies (pino) require node built-ins
        banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
        logLevel: 'error',
      });
      const executable = join(dir, 'cpi.sh');
      // the CPI runs with an empty environment (PATH, TMPDIR, HOME): everything it needs is spelled out
      writeFileSync(executable, `#!/bin/sh\nexec '${process.execPath}' '${bundle}' '${join(dir, 'config.json')}'\n`, { mode: 0o755 });
      const cpiLog: string[] = [];
      const cpi = new ExternalCpi({ executable, directorUuid: 'conformance', logger: quiet('external-cpi') }).withCpiLog((t) => cpiLog.push(t));
      return { cpi, image: join(dir, 'image'), networks: dummyNetworks, cpiLog, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  };
}

/** A network and subnet of the suite's own, so it can run next to a real `capstan` environment. */
export function testNetwork(tag: string, offset = 0) {
  const octet = 10 + ((process.pid + offset) % 190);
  return { name: `capstan-${tag}-${process.pid}-${offset}`, subnet: `10.246.${octet}.0/24`, gateway: `10.246.${octet}.1`, prefix: `10.246.${octet}` };
}

function docker(): Implementation {
  return {
    name: 'docker',
    skip: dockerAvailable() ? false : 'no Docker engine answers (`docker info` failed)',
    async setup() {
      const dir = mkdtempSync(join(tmpdir(), 'capstan-conformance-docker-'));
      const network = testNetwork('conformance');
      const cpi = new DockerCpi({
        agent: { ...agent, mbus: `nats://${network.gateway}:4222` },
        network: network.name,
        subnet: network.subnet,
        gateway: network.gateway,
        logger: quiet('docker-cpi'),
      });
      const networks = (n: number): Record<string, NetworkSettings> => ({
        default: { type: 'manual', ip: `${network.prefix}.${10 + n}`, netmask: '255.255.255.0', gateway: network.gateway, default: ['dns', 'gateway'] },
      });
      return {
        cpi,
        image: buildTinyRootfs(dir),
        networks,
        cleanup: async () => {
          await removeDockerLeftovers(network.name);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

/** Containers on the network, their volumes and the network itself. */
export async function removeDockerLeftovers(networkName: string): Promise<void> {
  const client = new Docker();
  for (const c of await client.listContainers({ all: true, filters: { network: [networkName] } })) {
    const info = await client.getContainer(c.Id).inspect();
    await client.getContainer(c.Id).remove({ force: true, v: true });
    for (const m of info.Mounts) if (m.Name) await client.getVolume(m.Name).remove().catch(() => {});
  }
  await removeNetwork(networkName);
}

export const IMPLEMENTATIONS: Implementation[] = [dummy(), docker(), external(2), external(1)];
