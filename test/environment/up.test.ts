// capstan up / down with the dummy CPI in a temporary CAPSTAN_HOME: the real nats-server
// (mutual TLS) and the real director process, on free ports so a running environment is untouched.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DirectorClient } from '../../src/cli/director-client.js';
import { readEnvironmentFile } from '../../src/environment/env-file.js';
import { environmentPaths } from '../../src/environment/paths.js';
import { runningPid } from '../../src/environment/processes.js';
import { down, up } from '../../src/environment/up.js';

const REPO = resolve(import.meta.dirname, '../..');
const home = mkdtempSync(join(tmpdir(), 'capstan-up-'));
const paths = environmentPaths(home);

after(async () => {
  await down({ home });
  rmSync(home, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => done(p));
    });
  });
}

test('up starts nats-server, the director and the health monitor, twice is harmless, down stops them', async () => {
  const ports = { directorPort: await freePort(), natsPort: await freePort(), blobstorePort: await freePort() };
  const lines: string[] = [];
  const first = await up({ home, cpi: 'dummy', ...ports, say: (l) => lines.push(l) });
  assert.deepEqual(first.started, ['nats', 'director', 'monitor']);

  const env = readEnvironmentFile(paths.envFile)!;
  assert.equal(env.url, `https://127.0.0.1:${ports.directorPort}`);
  assert.equal(env.cpi, 'dummy');
  assert.equal(statSync(paths.envFile).mode & 0o777, 0o600);
  assert.equal(statSync(paths.directorConfig).mode & 0o777, 0o600);
  // the generated admin password never reaches the output or the logs
  const monitor = await healthz(ports.directorPort + 368);
  assert.equal(monitor, 'ok', 'the health monitor answers /healthz');
  for (const text of [lines.join('\n'), readFileSync(paths.directorLog, 'utf8'), readFileSync(paths.natsLog, 'utf8'), readFileSync(paths.monitorLog, 'utf8')]) {
    assert.ok(!text.includes(env.client_secret), 'secret not printed');
  }

  const client = new DirectorClient({ url: env.url, caCert: readFileSync(env.ca_cert_path, 'utf8'), client: env.client, clientSecret: env.client_secret });
  try {
    assert.equal((await client.info()).user, 'admin');
  } finally {
    client.close();
  }

  const natsPid = runningPid(paths.natsPid, 'nats-server');
  const directorPid = runningPid(paths.directorPid, 'director');
  const second = await up({ home, cpi: 'dummy', ...ports });
  assert.deepEqual(second.started, []);
  assert.deepEqual(second.alreadyRunning, ['nats', 'director', 'monitor']);
  assert.equal(runningPid(paths.natsPid, 'nats-server'), natsPid);
  assert.equal(runningPid(paths.directorPid, 'director'), directorPid);
  assert.equal(readEnvironmentFile(paths.envFile)!.client_secret, env.client_secret, 'password kept');

  const exports = await new Promise<string>((done, fail) =>
    execFile(join(REPO, 'bin/capstan'), ['env', '--export'], { env: { ...process.env, CAPSTAN_HOME: home } }, (err, out) => (err ? fail(err) : done(out))),
  );
  assert.match(exports, new RegExp(`^export BOSH_ENVIRONMENT=https://127\\.0\\.0\\.1:${ports.directorPort} BOSH_CA_CERT=\\S+ca\\.pem BOSH_CLIENT=admin BOSH_CLIENT_SECRET=\\S+$`, 'm'));
  assert.match(exports, /^export CAPSTAN_ENVIRONMENT=/m);

  assert.deepEqual((await down({ home })).stopped, ['monitor', 'director', 'nats']);
  assert.equal(runningPid(paths.natsPid, 'nats-server'), undefined);
  assert.equal(runningPid(paths.directorPid, 'director'), undefined);
  assert.ok(!existsSync(paths.natsPid) && !existsSync(paths.directorPid), 'pid files removed');
  assert.ok(existsSync(paths.certs.ca) && existsSync(paths.envFile), 'state stays');
});

test('up refuses ports another environment already uses instead of adopting its processes', async () => {
  const squatter = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => squatter.once('listening', r));
  const natsPort = (squatter.address() as { port: number }).port;
  try {
    await assert.rejects(
      up({ home, cpi: 'dummy', natsPort, directorPort: await freePort(), blobstorePort: await freePort() }),
      new RegExp(`127\\.0\\.0\\.1:${natsPort} is already in use`),
    );
    assert.equal(runningPid(paths.natsPid, 'nats-server'), undefined);
  } finally {
    squatter.close();
  }
});

/** The monitor's /healthz body, polled until it answers (it connects to NATS and the director first). */
async function healthz(port: number): Promise<string> {
  for (let i = 0; i < 60; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.ok) return (await res.text()).trim();
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return 'no answer';
}

test('the director stops cleanly on SIGTERM when nats-server is already gone; its variables key lives outside director/', async () => {
  const ports = { directorPort: await freePort(), natsPort: await freePort(), blobstorePort: await freePort() };
  await up({ home, cpi: 'dummy', ...ports });
  const config = JSON.parse(readFileSync(paths.directorConfig, 'utf8'));
  assert.equal(config.variables_key_path, paths.variablesKey);
  assert.ok(!paths.variablesKey.startsWith(paths.directorDir + '/'), 'a copy of director/ alone cannot decrypt variables');

  process.kill(runningPid(paths.natsPid, 'nats-server')!, 'SIGKILL');
  const directorPid = runningPid(paths.directorPid, 'director')!;
  process.kill(directorPid, 'SIGTERM');
  for (let i = 0; i < 600 && runningPid(paths.directorPid, 'director') !== undefined; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(runningPid(paths.directorPid, 'director'), undefined, 'the director exited on SIGTERM');
  // a director that hung on the dead NATS connection would be SIGKILLed by `down` and never log this
  assert.match(readFileSync(paths.directorLog, 'utf8'), /Director stopped/);
  await down({ home });
});
