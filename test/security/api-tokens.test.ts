// Director API bearer tokens (UAA-style JWT, HS256 and RS256) and scopes: forged, expired and
// refresh tokens are refused; read-only principals are refused on every write route (401, code
// 600000); upload scopes reach only their upload; team tokens only see and change their team's
// deployments and tasks. Basic users keep working.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ADMIN, httpsCall, makeConfig, makeTempDir, startTestDirector, taskIdFrom, type RequestOptions, type TestDirector } from '../director/helpers.js';

const SYMMETRIC_KEY = 'token-signing-key-for-tests';
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PUBLIC_PEM = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const READER = { name: 'auditor', password: 'auditor-password' };
const UUID = 'test-uuid';

let director: TestDirector;
let temp: ReturnType<typeof makeTempDir>;

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

function jwt(claims: Record<string, unknown>, alg: 'HS256' | 'RS256' | 'none' = 'HS256', key: string = SYMMETRIC_KEY): string {
  const signed = `${b64({ alg, typ: 'JWT' })}.${b64({ exp: now() + 600, jti: 'abc', ...claims })}`;
  if (alg === 'none') return `${signed}.`;
  const signature = alg === 'HS256' ? createHmac('sha256', key).update(signed).digest() : sign('RSA-SHA256', Buffer.from(signed), rsa.privateKey);
  return `${signed}.${signature.toString('base64url')}`;
}

const token = (scope: string[], user = 'someone') => jwt({ user_name: user, scope });

function call(method: string, path: string, bearer: string | null, options: RequestOptions = {}) {
  const headers = { ...options.headers, ...(bearer ? { authorization: `bearer ${bearer}` } : {}) };
  return httpsCall(director.port, method, path, { ...options, auth: bearer ? null : options.auth, headers });
}

const yaml = (text: string): RequestOptions => ({ headers: { 'content-type': 'text/yaml' }, body: text });

before(async () => {
  temp = makeTempDir('security-tokens');
  const config = makeConfig(temp.dir);
  config.users = [ADMIN, { ...READER, scopes: ['bosh.read'] }];
  config.uaa = { url: 'https://uaa.example:8443', symmetric_key: SYMMETRIC_KEY, public_key: PUBLIC_PEM };
  director = await startTestDirector(temp.dir, { config, jobs: {} });
});
after(async () => {
  await director.close();
  temp.remove();
});

test('/info announces UAA; Basic admin credentials still work', async () => {
  const info = (await call('GET', '/info', null, { auth: null })).json();
  assert.deepEqual(info.user_authentication, { type: 'uaa', options: { url: 'https://uaa.example:8443', urls: ['https://uaa.example:8443'] } });
  assert.equal((await director.request('GET', '/deployments')).status, 200);
});

test('valid HS256 and RS256 tokens authenticate; the user is user_name or client_id', async () => {
  const hs = await call('GET', '/info', token(['bosh.admin'], 'alice'));
  assert.equal(hs.json().user, 'alice');
  const rs = jwt({ client_id: 'ci-client', scope: ['bosh.admin'] }, 'RS256');
  assert.equal((await call('GET', '/deployments', rs)).status, 200);
  assert.equal((await call('GET', '/info', rs)).json().user, 'ci-client');
  assert.equal((await call('GET', '/deployments', jwt({ user_name: 'u', scope: [`bosh.${UUID}.admin`] }))).status, 200);
});

test('expired, refresh, unsigned, forged and malformed tokens are refused like missing credentials', async () => {
  const refused = {
    expired: jwt({ user_name: 'u', scope: ['bosh.admin'], exp: now() - 3600 }),
    'not valid yet': jwt({ user_name: 'u', scope: ['bosh.admin'], nbf: now() + 3600 }),
    'no expiry': jwt({ user_name: 'u', scope: ['bosh.admin'], exp: undefined }),
    refresh: jwt({ user_name: 'u', scope: ['bosh.admin'], jti: 'abc-r' }),
    'alg none': jwt({ user_name: 'u', scope: ['bosh.admin'] }, 'none'),
    'wrong key': jwt({ user_name: 'u', scope: ['bosh.admin'] }, 'HS256', 'guessed-key'),
    // the classic confusion: HS256 signed with the (public) RSA key as the HMAC secret
    'public key as HMAC secret': jwt({ user_name: 'u', scope: ['bosh.admin'] }, 'HS256', PUBLIC_PEM),
    'tampered claims': (() => {
      const [h, , s] = token(['bosh.read']).split('.');
      return `${h}.${b64({ user_name: 'u', scope: ['bosh.admin'], exp: now() + 600 })}.${s}`;
    })(),
    'not a JWT': 'abc.def',
    'garbage segments': '!!!.???.***',
    'no user': jwt({ scope: ['bosh.admin'] }),
  };
  for (const [why, bad] of Object.entries(refused)) {
    const res = await call('GET', '/deployments', bad);
    assert.equal(res.status, 401, why);
    assert.equal(res.text, "Not authorized: '/deployments'\n", why);
    assert.equal((await call('GET', '/info', bad)).json().user, null, why);
  }
});

/** Every write route of the API, read from the route files so new routes are covered too. */
function writeRoutes(): Array<{ method: string; path: string }> {
  const dir = resolve(import.meta.dirname, '../../src/director/api');
  const routes: Array<{ method: string; path: string }> = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(join(dir, file), 'utf8');
    for (const m of text.matchAll(/app\.(post|put|delete|patch)\s*(?:<[^>]*(?:>[^>(]*)*>)?\(\s*['`]([^'`]+)['`]/g)) {
      routes.push({ method: m[1].toUpperCase(), path: m[2].replace(/:([a-z_]+)/gi, (_, p: string) => (p === 'id' ? '1' : `x-${p}`)) });
    }
  }
  // registered in a loop over config types (configs.ts)
  for (const path of ['/cloud_configs', '/runtime_configs', '/cpi_configs']) routes.push({ method: 'POST', path });
  return routes.filter((r) => !/\/diff$/.test(r.path)); // diff changes nothing: readers may call it
}

test('a read-only token (and a bosh.read Basic user) is refused on every write route with 401 / 600000', async () => {
  const routes = writeRoutes();
  assert.ok(routes.length >= 15, `found ${routes.length} write routes`);
  const readers: Array<[string, RequestOptions, string | null]> = [
    ['bosh.read token', {}, token(['bosh.read'])],
    ['uuid read token', {}, token([`bosh.${UUID}.read`])],
    ['bosh.read basic user', { auth: READER }, null],
  ];
  const before = (await director.request('GET', '/tasks?verbose=2')).json().length;
  for (const [who, options, bearer] of readers) {
    for (const { method, path } of routes) {
      const withBody = method === 'POST' || method === 'PUT' ? { headers: { 'content-type': 'text/yaml' }, body: 'name: web\n' } : {};
      const res = await call(method, path, bearer, { ...options, ...withBody });
      assert.equal(res.status, 401, `${who}: ${method} ${path} -> ${res.status} ${res.text}`);
      const body = res.json();
      assert.equal(body.code, 600000, `${who}: ${method} ${path}`);
      assert.match(body.description, /^Require one of the scopes: bosh\.admin, bosh\.test-uuid\.admin/);
    }
    assert.equal((await call('GET', '/deployments', bearer, options)).status, 200, `${who} can read`);
  }
  assert.equal((await director.request('GET', '/tasks?verbose=2')).json().length, before, 'no task was created');
  assert.deepEqual((await director.request('GET', '/deployments')).json(), [], 'no deployment was created');
});

test('upload scopes reach only their upload routes', async () => {
  const releases = token(['bosh.releases.upload']);
  const stemcells = token(['bosh.stemcells.upload']);
  const raw = { headers: { 'content-type': 'application/x-compressed' }, body: 'not a tarball' };
  assert.notEqual((await call('POST', '/releases', releases, raw)).status, 401);
  assert.equal((await call('POST', '/stemcells', releases, raw)).json().code, 600000);
  assert.notEqual((await call('POST', '/stemcells', stemcells, raw)).status, 401);
  assert.equal((await call('POST', '/releases', stemcells, raw)).json().code, 600000);
  assert.equal((await call('DELETE', '/releases/x', releases)).json().code, 600000);
  assert.equal((await call('POST', '/deployments', releases, yaml('name: web\n'))).json().code, 600000);
  assert.equal((await call('GET', '/deployments', releases)).status, 401, 'upload scopes do not read');
});

test('team tokens: deployments belong to the creating team; other teams cannot see or change them', async () => {
  const teamA = token(['bosh.teams.team-a.admin'], 'ann');
  const teamAReader = token(['bosh.teams.team-a.read'], 'amy');
  const teamB = token(['bosh.teams.team-b.admin'], 'bob');

  const taskA = taskIdFrom(await call('POST', '/deployments', teamA, yaml('name: web-a\n')));
  const taskB = taskIdFrom(await call('POST', '/deployments', teamB, yaml('name: web-b\n')));
  taskIdFrom(await director.request('POST', '/deployments', yaml('name: admins-only\n')));
  await director.waitForTask(taskA);
  await director.waitForTask(taskB);

  const names = (res: { json(): Array<{ name: string }> }) => res.json().map((d) => d.name);
  assert.deepEqual(names(await call('GET', '/deployments', teamA)), ['web-a']);
  assert.deepEqual(names(await call('GET', '/deployments', teamAReader)), ['web-a']);
  assert.deepEqual(names(await call('GET', '/deployments', teamB)), ['web-b']);
  const all = (await director.request('GET', '/deployments')).json() as Array<{ name: string; teams: string[] }>;
  assert.deepEqual(all.map((d) => [d.name, d.teams]), [['admins-only', []], ['web-a', ['team-a']], ['web-b', ['team-b']]]);

  // tasks follow their deployment
  const taskDeployments = (await call('GET', '/tasks?verbose=2', teamA)).json().map((t: { deployment: string }) => t.deployment);
  assert.ok(taskDeployments.length > 0 && taskDeployments.every((d: string) => d === 'web-a'), `team-a saw tasks of ${taskDeployments}`);
  assert.equal((await call('GET', `/tasks/${taskA}`, teamA)).status, 200);
  assert.equal((await call('GET', `/tasks/${taskA}/output?type=event`, teamB)).json().code, 600000);
  assert.equal((await call('GET', `/tasks/${taskA}`, teamB)).json().code, 600000);

  // other teams' deployments: no reads, no writes, no take-over by re-deploying the same name
  for (const [method, path] of [['GET', '/deployments/web-a'], ['GET', '/deployments/web-a/vms'], ['DELETE', '/deployments/web-a'], ['GET', '/deployments/admins-only']]) {
    assert.equal((await call(method, path, teamB)).json().code, 600000, `team-b ${method} ${path}`);
  }
  assert.equal((await call('POST', '/deployments', teamB, yaml('name: web-a\n'))).json().code, 600000);
  assert.equal((await call('POST', '/deployments', teamB, yaml('name: admins-only\n'))).json().code, 600000);
  // a team reader cannot change its own team's deployment; global writes stay admin-only
  assert.equal((await call('DELETE', '/deployments/web-a', teamAReader)).json().code, 600000);
  assert.equal((await call('POST', '/deployments', teamAReader, yaml('name: web-c\n'))).json().code, 600000);
  for (const [method, path] of [['POST', '/stemcells'], ['DELETE', '/releases/x'], ['POST', '/configs'], ['GET', '/events']]) {
    assert.equal((await call(method, path, teamA)).json().code, 600000, `team-a ${method} ${path}`);
  }
  // the owning team may
  assert.equal((await call('GET', '/deployments/web-a', teamAReader)).status, 200);
  assert.equal((await call('DELETE', '/deployments/web-a', teamA)).status, 302);
});
