// Builds the CPI the director config names, with the agent settings every VM gets (BOSH's CPI `agent`
// config): the NATS URL agents use and the embedded DAV blobstore with its CA.
import { join } from 'node:path';
import type { DirectorConfig } from '../director/config.js';
import type { Cpi, CpiAgentConfig } from './cpi.js';
import { DockerCpi } from './docker/docker-cpi.js';
import { DummyCpi } from './dummy/dummy-cpi.js';
import { ExternalCpi } from './external.js';

export function cpiAgentConfig(config: DirectorConfig, caPem: string): CpiAgentConfig {
  return {
    mbus: config.nats.agent_url,
    blobstore: {
      provider: 'dav',
      // no credential: the director puts each VM's own into env.bosh.blobstores (vm-creator.ts)
      options: { endpoint: config.blobstore.agent_endpoint, tls: { cert: { ca: caPem } } },
    },
  };
}

export function createCpi(config: DirectorConfig, caPem: string): { cpi: Cpi; name: string } {
  const agent = cpiAgentConfig(config, caPem);
  const cpiConfig = config.cpi;
  switch (cpiConfig.type) {
    case 'docker':
      return { cpi: new DockerCpi({ agent, network: cpiConfig.network, subnet: cpiConfig.subnet, gateway: cpiConfig.gateway, socketPath: cpiConfig.socket_path }), name: 'docker' };
    case 'dummy':
      return { cpi: new DummyCpi({ agent, baseDir: cpiConfig.base_dir, agentBinary: cpiConfig.agent_binary, supervisor: cpiConfig.supervisor }), name: 'dummy' };
    case 'external':
      // an external CPI configures its agents itself (its own config's `agent` section)
      return {
        cpi: new ExternalCpi({
          executable: cpiConfig.executable,
          directorUuid: config.uuid,
          properties: cpiConfig.properties,
          timeoutMs: cpiConfig.timeout_seconds === undefined ? undefined : cpiConfig.timeout_seconds * 1000,
        }),
        name: 'external',
      };
  }
}

/** One entry of a cpi-config (director-api.md §5.4), as src/director/cpis.ts parses it. */
export interface CpiConfigEntry {
  name: string;
  /** docker | dummy | external, or a BOSH CPI type (aws, google, ...) run as an external executable. */
  type: string;
  exec_path?: string;
  properties: Record<string, unknown>;
}

/** The executable an external CPI entry runs: exec_path, a path given as type, or BOSH's job layout. */
export function externalCpiExecutable(entry: CpiConfigEntry): string {
  if (entry.exec_path) return entry.exec_path;
  if (entry.type.includes('/')) return entry.type;
  return `/var/vcap/jobs/${entry.type}_cpi/bin/cpi`;
}

const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/**
 * Builds a CPI named in the cpi-config. docker properties: `host` (DOCKER_HOST-style URL), `tls:
 * {ca, certificate, private_key}`, `network`, `subnet`, `gateway`; dummy: `base_dir` (default
 * <director base_dir>/cpis/<name>), `agent_binary`, `supervisor` (monit|dummy); anything else is an external CPI whose context
 * carries the properties.
 */
export function createConfiguredCpi(entry: CpiConfigEntry, config: DirectorConfig, caPem: string): Cpi {
  const p = entry.properties;
  switch (entry.type) {
    case 'docker': {
      const tls = p.tls as Record<string, unknown> | undefined;
      return new DockerCpi({
        agent: cpiAgentConfig(config, caPem),
        host: str(p.host),
        tls: tls ? { ca: str(tls.ca) ?? '', cert: str(tls.certificate) ?? '', key: str(tls.private_key) ?? '' } : undefined,
        network: str(p.network),
        subnet: str(p.subnet),
        gateway: str(p.gateway),
        socketPath: str(p.socket_path),
      });
    }
    case 'dummy':
      return new DummyCpi({
        agent: cpiAgentConfig(config, caPem),
        baseDir: str(p.base_dir) ?? join(config.base_dir, 'cpis', entry.name),
        agentBinary: str(p.agent_binary),
        supervisor: p.supervisor === 'dummy' ? 'dummy' : undefined,
      });
    default:
      return new ExternalCpi({
        executable: externalCpiExecutable(entry),
        directorUuid: config.uuid,
        properties: p,
        timeoutMs: typeof p.timeout_seconds === 'number' ? p.timeout_seconds * 1000 : undefined,
      });
  }
}
