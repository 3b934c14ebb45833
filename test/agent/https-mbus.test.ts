// The HTTPS mbus (create-env path, §1.7) with `-M dummy`, and `-M dummy-nats` over NATS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentEnv, freePort, waitFor } from './harness.js';

interface HttpReply {
  status: number;
  headers: Record<string, unknown>;
  body: string;
}

function call(port: number, ca: string, method: string, path: string, body?: string | Buffer, auth = 'admin:s3cret'): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, method, path, ca, headers: auth ? { Authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('HTTPS mbus: POST /agent, PUT/GET /blobs/<id>, basic auth (-M dummy)', async () => {
  const port = await freePort();
  const env = new AgentEnv({ extraFlags: ['-M', 'dummy'] });
  try {
    await env.setup();
    const pki = env.pki;
    // The agent serves with env.bosh.mbus.cert; the test PKI's NATS cert has the 127.0.0.1 SAN.
    env.options.settings = {
      mbus: `https://admin:s3cret@127.0.0.1:${port}`,
      env: { bosh: { mbus: { cert: { ca: pki.ca, certificate: pki.nats.cert, private_key: pki.nats.key } } } },
    };
    await env.writeConfig();
    env.spawnAgent();
    const ping = JSON.stringify({ method: 'ping', arguments: [], reply_to: 'cli' });
    const first = await waitFor('https ping', async () => call(port, pki.ca, 'POST', '/agent', ping).catch(() => undefined), 60_000, () => env.log);
    assert.deepEqual({ status: first.status, body: JSON.parse(first.body) }, { status: 200, body: { value: 'pong' } });

    const denied = await call(port, pki.ca, 'POST', '/agent', ping, 'admin:wrong');
    assert.equal(denied.status, 401);
    assert.equal(denied.headers['www-authenticate'], 'Basic realm=""');
    assert.equal((await call(port, pki.ca, 'GET', '/agent')).status, 404);
    assert.equal((await call(port, pki.ca, 'POST', '/agent', '{not json')).status, 500);
    const unknown = await call(port, pki.ca, 'POST', '/agent', JSON.stringify({ method: 'nope', reply_to: 'cli' }));
    assert.deepEqual(JSON.parse(unknown.body), { exception: { message: 'unknown message nope' } });

    assert.equal((await call(port, pki.ca, 'PUT', '/blobs/blob-1', 'blob bytes')).status, 201);
    assert.equal(await readFile(join(env.base, 'data', 'blobs', 'blob-1'), 'utf8'), 'blob bytes');
    assert.deepEqual(await call(port, pki.ca, 'GET', '/blobs/blob-1').then((r) => [r.status, r.body]), [200, 'blob bytes']);
    assert.equal((await call(port, pki.ca, 'GET', '/blobs/missing')).status, 404);

    // -M dummy: start/stop without monit; job_state follows.
    const post = async (m: string, args: unknown[] = []) => JSON.parse((await call(port, pki.ca, 'POST', '/agent', JSON.stringify({ method: m, arguments: args, reply_to: 'cli' }))).body);
    assert.deepEqual(await post('start'), { value: 'started' });
    assert.equal((await post('get_state')).value.job_state, 'running');
    const stop = (await post('stop')).value as { agent_task_id: string };
    await waitFor('stopped', async () => ((await post('get_task', [stop.agent_task_id])).value === 'stopped' ? true : undefined));
    assert.equal((await post('get_state')).value.job_state, 'stopped');
  } finally {
    await env.teardown();
  }
});

test('-M dummy-nats: set_dummy_status drives job_state in get_state and heartbeats', async () => {
  const env = new AgentEnv({ extraFlags: ['-M', 'dummy-nats'] });
  try {
    await env.setup();
    await env.startAgent();
    assert.equal(await env.call('start'), 'started');
    assert.equal(((await env.call('get_state')) as { job_state: string }).job_state, 'running');
    assert.equal(await env.call('set_dummy_status', [{ status: 'failing' }]), 'ok');
    assert.equal(((await env.call('get_state')) as { job_state: string }).job_state, 'failing');
    await waitFor('failing heartbeat', async () => (env.heartbeats.some((h) => h.job_state === 'failing') ? true : undefined));
  } finally {
    await env.teardown();
  }
});
