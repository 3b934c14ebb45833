// The generated nats-server config, run by the real nats-server: mutual TLS with the
// environment's certificates, clients without a certificate refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, StringCodec } from 'nats';
import { ensureCertificates } from '../../src/environment/certs.js';
import { natsServerConfig, writeNatsServerConfig } from '../../src/environment/nats.js';
import { environmentPaths } from '../../src/environment/paths.js';
import { startDetached, stopProcess } from '../../src/environment/processes.js';

const home = mkdtempSync(join(tmpdir(), 'capstan-nats-'));
const paths = environmentPaths(home);
let port = 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}

async function waitUntilConnectable(fn: () => Promise<void>): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i > 100) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

const tls = () => ({ caFile: paths.certs.ca, certFile: paths.certs.directorClient, keyFile: paths.certs.directorClientKey });

before(async () => {
  ensureCertificates(paths, { natsIp: '127.0.0.1', directorIps: [] });
  port = await freePort();
  writeNatsServerConfig(paths.natsConfig, {
    host: '127.0.0.1',
    port,
    certificatePath: paths.certs.nats,
    privateKeyPath: paths.certs.natsKey,
    caPath: paths.certs.ca,
  });
  startDetached({ command: 'nats-server', args: ['-c', paths.natsConfig], pidFile: paths.natsPid, logFile: paths.natsLog });
});

after(async () => {
  await stopProcess(paths.natsPid, 'nats-server');
  rmSync(home, { recursive: true, force: true });
});

test('config: listen address, 1 MB payload, TLS with client verification', () => {
  const text = natsServerConfig({ host: '10.245.0.1', port: 4222, certificatePath: '/c/nats.pem', privateKeyPath: '/c/nats.key', caPath: '/c/ca.pem' });
  assert.match(text, /^listen: "10\.245\.0\.1:4222"$/m);
  assert.match(text, /^max_payload: 1048576$/m);
  assert.match(text, /^ {2}verify: true$/m);
  assert.match(text, /^ {2}cert_file: "\/c\/nats\.pem"$/m);
  assert.match(text, /^ {2}ca_file: "\/c\/ca\.pem"$/m);
});

test('the real nats-server accepts the director client certificate and delivers messages', async () => {
  await waitUntilConnectable(async () => {
    const nc = await connect({ servers: `tls://127.0.0.1:${port}`, tls: tls(), reconnect: false });
    try {
      const sc = StringCodec();
      const sub = nc.subscribe('capstan.test', { max: 1 });
      nc.publish('capstan.test', sc.encode('hello'));
      for await (const m of sub) assert.equal(sc.decode(m.data), 'hello');
    } finally {
      await nc.close();
    }
  });
});

test('a client without a certificate is refused', async () => {
  await assert.rejects(
    connect({ servers: `tls://127.0.0.1:${port}`, tls: { caFile: paths.certs.ca }, reconnect: false, timeout: 5000 }),
  );
});
