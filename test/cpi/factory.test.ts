import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DirectorConfigSchema } from '../../src/director/config.js';
import { cpiAgentConfig, createCpi } from '../../src/cpi/factory.js';
import { DockerCpi } from '../../src/cpi/docker/docker-cpi.js';
import { DummyCpi } from '../../src/cpi/dummy/dummy-cpi.js';
import { ExternalCpi } from '../../src/cpi/external.js';

function config(cpi: unknown) {
  return DirectorConfigSchema.parse({
    uuid: 'u',
    base_dir: '/tmp/d',
    tls: { certificate_path: 'c', private_key_path: 'k' },
    users: [{ name: 'admin', password: 'p' }],
    db: { adapter: 'sqlite', database: 'db.sqlite' },
    blobstore: { path: '/b', server: { user: 'agent', password: 'blob-pw' }, agent_endpoint: 'https://10.245.0.1:25250' },
    nats: { url: 'nats://127.0.0.1:4222', agent_url: 'nats://10.245.0.1:4222', ca_path: 'ca', client_certificate_path: 'c', client_private_key_path: 'k' },
    agent_ca: { certificate_path: 'c', private_key_path: 'k' },
    cpi,
  });
}

test('agents get the NATS URL for agents and the embedded DAV blobstore with the CA, but not the director\'s blobstore credential', () => {
  assert.deepEqual(cpiAgentConfig(config({ type: 'docker' }), 'CA PEM'), {
    mbus: 'nats://10.245.0.1:4222',
    blobstore: {
      provider: 'dav',
      options: { endpoint: 'https://10.245.0.1:25250', tls: { cert: { ca: 'CA PEM' } } },
    },
  });
});

test('createCpi builds the configured CPI', () => {
  const docker = createCpi(config({ type: 'docker' }), 'CA');
  assert.equal(docker.name, 'docker');
  assert.ok(docker.cpi instanceof DockerCpi);
  const dummy = createCpi(config({ type: 'dummy', base_dir: '/tmp/x' }), 'CA');
  assert.equal(dummy.name, 'dummy');
  assert.ok(dummy.cpi instanceof DummyCpi);
  const external = createCpi(config({ type: 'external', executable: '/bin/cpi' }), 'CA');
  assert.equal(external.name, 'external');
  assert.ok(external.cpi instanceof ExternalCpi);
});

test('createConfiguredCpi builds a cpi-config entry: docker with its host and TLS, dummy with its own base dir, anything else external', async () => {
  const { createConfiguredCpi } = await import('../../src/cpi/factory.js');
  const director = config({ type: 'dummy', base_dir: '/tmp/x' });
  const tls = { ca: 'CA', certificate: 'CERT', private_key: 'KEY' };
  const docker = createConfiguredCpi({ name: 'z2', type: 'docker', properties: { host: 'tcp://10.0.0.5:2376', tls, network: 'n2' } }, director, 'AGENT CA');
  assert.ok(docker instanceof DockerCpi);
  const options = (docker as unknown as { options: { host: string; tls: unknown; network: string } }).options;
  assert.deepEqual([options.host, options.tls, options.network], ['tcp://10.0.0.5:2376', { ca: 'CA', cert: 'CERT', key: 'KEY' }, 'n2']);
  const dummy = createConfiguredCpi({ name: 'd1', type: 'dummy', properties: {} }, director, 'AGENT CA');
  assert.ok(dummy instanceof DummyCpi);
  assert.equal((dummy as unknown as { options: { baseDir: string } }).options.baseDir, '/tmp/d/cpis/d1');
  const aws = createConfiguredCpi({ name: 'aws', type: 'aws', properties: { region: 'x' } }, director, 'AGENT CA');
  assert.ok(aws instanceof ExternalCpi);
  assert.equal((aws as unknown as { options: { executable: string } }).options.executable, '/var/vcap/jobs/aws_cpi/bin/cpi');
});
