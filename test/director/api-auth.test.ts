import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { DestinationStream } from 'pino';
import { createLogger } from '../../src/common/logging.js';
import { ADMIN, BLOB_USER, httpsCall, makeTempDir, startTestDirector, taskIdFrom, type TestDirector } from './helpers.js';

let director: TestDirector;
let temp: ReturnType<typeof makeTempDir>;
const logLines: string[] = [];

before(async () => {
  temp = makeTempDir('director-auth');
  const capture: DestinationStream = { write: (line: string) => void logLines.push(line) };
  director = await startTestDirector(temp.dir, { log: createLogger('director', capture, 'debug'), jobs: {} });
});
after(async () => {
  await director.close();
  temp.remove();
});

test('routes other than GET /info answer 401 with the BOSH text and a Basic challenge', async () => {
  const res = await director.request('GET', '/tasks?limit=3', { auth: null });
  assert.equal(res.status, 401);
  assert.equal(res.text, "Not authorized: '/tasks'\n");
  assert.equal(res.headers['www-authenticate'], 'Basic realm="BOSH Director"');

  const wrong = await director.request('GET', '/deployments', { auth: { name: ADMIN.name, password: 'wrong' } });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.text, "Not authorized: '/deployments'\n");
});

test('GET /info needs no credentials and says basic auth', async () => {
  const res = await director.request('GET', '/info', { auth: null });
  assert.equal(res.status, 200);
  const info = res.json();
  assert.equal(info.user, null);
  assert.deepEqual(info.user_authentication, { type: 'basic', options: {} });
  assert.equal(info.name, 'test-director');
  assert.equal(info.uuid, 'test-uuid');
  assert.equal(info.cpi, 'fake');
  assert.equal(typeof info.features.snapshots.status, 'boolean');
});

test('GET /info echoes the user of valid credentials only (bosh log-in)', async () => {
  assert.equal((await director.request('GET', '/info')).json().user, 'admin');
  assert.equal((await director.request('GET', '/info', { auth: { name: ADMIN.name, password: 'nope' } })).json().user, null);
});

test('unknown routes and unknown tasks answer the way the CLI expects', async () => {
  const unknown = await director.request('GET', '/no/such/route?x=1');
  assert.equal(unknown.status, 404);
  assert.equal(unknown.text, "Endpoint '/no/such/route' not found.");

  const missing = await director.request('GET', '/tasks/4242');
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.json(), { code: 10000, description: 'Task 4242 not found' });
});

test('an unknown deployment is a 404 with code 70000', async () => {
  const res = await director.request('GET', '/deployments/nope');
  assert.equal(res.status, 404);
  assert.equal(res.json().code, 70000);
});

test('no log line carries a password or a Basic credential, even at debug level', async () => {
  const basic = Buffer.from(`${ADMIN.name}:${ADMIN.password}`).toString('base64');
  await director.request('GET', '/info');
  await director.request('GET', '/tasks', { auth: { name: ADMIN.name, password: 'wrong-guess' } });
  const id = taskIdFrom(await director.request('POST', '/deployments', { headers: { 'content-type': 'text/yaml' }, body: 'name: web\n' }));
  await director.waitForTask(id); // fails (this director has no task jobs), and the failure is logged
  await httpsCall(director.blobstorePort, 'PUT', '/blob', { auth: { name: BLOB_USER.user, password: BLOB_USER.password }, body: 'x' });
  const debug = (await director.request('GET', `/tasks/${id}/output?type=debug`)).text;
  const everything = logLines.join('') + debug;
  assert.ok(logLines.length > 0);
  for (const secret of [ADMIN.password, basic, BLOB_USER.password, 'wrong-guess']) assert.ok(!everything.includes(secret), `log contains '${secret}'`);
});
