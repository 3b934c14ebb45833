// Builds the CPI the director config names, with the agent settings every VM gets (BOSH's CPI `agent`
// config): the NATS URL agents use and the embedded DAV blobstore with its CA.
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
      options: {
        endpoint: config.blobstore.agent_endpoint,
        user: config.blobstore.server.user,
        password: config.blobstore.server.password,
        tls: { cert: { ca: caPem } },
      },
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
      return { cpi: new DummyCpi({ agent, baseDir: cpiConfig.base_dir, agentBinary: cpiConfig.agent_binary }), name: 'dummy' };
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
