// The config diff routes of director-api.md §2.9 against a real director (SQLite): what the
// update-*-config commands show before changing anything, and diff-config between versions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeTempDir, startTestDirector, type TestDirector } from './helpers.js';

let director: TestDirector;
let temp: ReturnType<typeof makeTempDir>;

const JSON_TYPE = { 'content-type': 'application/json' };
const YAML_TYPE = { 'content-type': 'text/yaml' };

before(async () => {
  temp = makeTempDir('director-configs-diff');
  director = await startTestDirector(temp.dir);
});
after(async () => {
  await director.close();
  temp.remove();
});

const postJson = (path: string, body: unknown) => director.request('POST', path, { headers: JSON_TYPE, body: JSON.stringify(body) });
const postYaml = (path: string, body: string) => director.request('POST', path, { headers: YAML_TYPE, body });

async function createConfig(type: string, name: string, content: string): Promise<string> {
  const res = await postJson('/configs', { type, name, content });
  assert.equal(res.status, 201, res.text);
  return res.json().id;
}

test('POST /configs/diff with type, name and content diffs against the current version and names it', async () => {
  const first = await postJson('/configs/diff', { type: 'deploy', name: 'flags', content: 'flags: [fix]\n' });
  assert.equal(first.status, 200);
  assert.deepEqual(first.json(), { diff: [['flags:', 'added'], ['- fix', 'added']] }, 'nothing stored yet: no from, everything added');

  const id = await createConfig('deploy', 'flags', 'flags: [fix]\nexclude_deployments: [a]\n');
  const res = await postJson('/configs/diff', { type: 'deploy', name: 'flags', content: 'flags: [fix, recreate]\nexclude_deployments: [a]\n' });
  assert.equal(res.status, 200);
  assert.deepEqual(res.json(), { from: { id }, diff: [['flags:', null], ['- recreate', 'added']] });
  assert.equal(typeof res.json().from.id, 'string');

  const same = await postJson('/configs/diff', { type: 'deploy', name: 'flags', content: 'flags: [fix]\nexclude_deployments: [a]\n' });
  assert.deepEqual(same.json(), { from: { id }, diff: [] });
});

test('POST /configs/diff between two stored versions, by id or content; secrets redacted', async () => {
  const v1 = await createConfig('runtime', 'dns', 'addons:\n- name: dns\n  jobs: [{name: bosh-dns, release: bosh-dns}]\n  properties: {api: {password: first-secret}}\n');
  const v2 = await createConfig('runtime', 'dns', 'addons:\n- name: dns\n  jobs: [{name: bosh-dns, release: bosh-dns}]\n  properties: {api: {password: second-secret}}\n');
  const res = await postJson('/configs/diff', { from: { id: v1 }, to: { id: v2 } });
  assert.equal(res.status, 200);
  assert.deepEqual(res.json().diff, [
    ['addons:', null],
    ['- name: dns', null],
    ['  properties:', null],
    ['    api:', null],
    ['      password: <redacted>', 'removed'],
    ['      password: <redacted>', 'added'],
  ]);
  assert.doesNotMatch(res.text, /secret/);

  // the bosh CLI sends both keys of a side, the unused one empty
  const mixed = await postJson('/configs/diff', { from: { id: '', content: 'a: 1\n' }, to: { id: '', content: 'a: 2\nb: [x]\n' } });
  assert.deepEqual(mixed.json().diff, [['a: 1', 'removed'], ['a: 2', 'added'], ['b:', 'added'], ['- x', 'added']]);
  const toId = await postJson('/configs/diff', { from: { content: 'addons: []\n' }, to: { id: v1, content: '' } });
  assert.equal(toId.status, 200);
  assert.deepEqual(toId.json().diff[0], ['addons:', null]);
});

test('POST /configs/diff errors: bad YAML 400 {diff: [], error}, unknown id 404 440012, bad request 400', async () => {
  const badYaml = await postJson('/configs/diff', { type: 'cloud', name: 'default', content: 'azs: [z1\n' });
  assert.equal(badYaml.status, 400);
  assert.deepEqual(badYaml.json().diff, []);
  assert.match(badYaml.json().error, /^Unable to diff config content: Config must be valid YAML/);

  const notHash = await postJson('/configs/diff', { from: { content: '- a list\n' }, to: { content: 'a: 1\n' } });
  assert.equal(notHash.status, 400);
  assert.match(notHash.json().error, /YAML hash expected/);

  const unknown = await postJson('/configs/diff', { from: { id: '999999' }, to: { content: 'a: 1\n' } });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.json().code, 440012);
  assert.match(unknown.text, /"code":440012/, 'the CLI looks for this text in the body');
  assert.match(unknown.json().description, /999999/);

  for (const body of [{}, { type: 'cloud', content: 'a: 1' }, { from: { id: '1' } }, { from: {}, to: { id: '1' } }]) {
    const bad = await postJson('/configs/diff', body);
    assert.equal(bad.status, 400, JSON.stringify(body));
    assert.equal(bad.json().code, 440010);
    assert.match(bad.json().description, /request formats are allowed/);
  }
});

test('POST /cloud_configs/diff?name= diffs the named cloud config, unredacted, named lists matched by name', async () => {
  const empty = await postYaml('/cloud_configs/diff?name=extra', 'vm_types: [{name: small}]\n');
  assert.equal(empty.status, 200);
  assert.deepEqual(empty.json(), { diff: [['vm_types:', 'added'], ['- name: small', 'added']] });

  assert.equal((await postYaml('/cloud_configs?name=extra', 'azs: [{name: z1}]\nvm_types:\n- name: small\n  cloud_properties: {cpu: 1}\n- name: large\n')).status, 201);
  const res = await postYaml('/cloud_configs/diff?name=extra', 'azs: [{name: z1}]\nvm_types:\n- name: large\n- name: small\n  cloud_properties: {cpu: 2}\n  env: {bosh: {password: visible}}\n');
  assert.equal(res.status, 200);
  assert.deepEqual(res.json(), {
    diff: [
      ['vm_types:', null],
      ['- name: small', null],
      ['  cloud_properties:', null],
      ['    cpu: 1', 'removed'],
      ['    cpu: 2', 'added'],
      ['  env:', 'added'],
      ['    bosh:', 'added'],
      ['      password: visible', 'added'],
    ],
  });

  // the default name is a different config: everything is added there
  const other = await postYaml('/cloud_configs/diff', 'azs: [{name: z1}]\n');
  assert.deepEqual(other.json().diff, [['azs:', 'added'], ['- name: z1', 'added']]);
});

test('POST /runtime_configs/diff redacts addon properties unless redact=false', async () => {
  assert.equal((await postYaml('/runtime_configs?name=agents', 'addons:\n- name: agent\n  properties: {token: old-token}\n')).status, 201);
  const next = 'addons:\n- name: agent\n  properties: {token: new-token}\n';
  const redacted = await postYaml('/runtime_configs/diff?name=agents', next);
  assert.equal(redacted.status, 200);
  assert.deepEqual(redacted.json(), {
    diff: [['addons:', null], ['- name: agent', null], ['  properties:', null], ['    token: <redacted>', 'removed'], ['    token: <redacted>', 'added']],
  });
  const shown = await postYaml('/runtime_configs/diff?name=agents&redact=false', next);
  assert.deepEqual(shown.json().diff.slice(-2), [['    token: old-token', 'removed'], ['    token: new-token', 'added']]);
});

test('POST /cpi_configs/diff redacts CPI properties unless redact=false', async () => {
  assert.equal((await postYaml('/cpi_configs', 'cpis:\n- name: one\n  type: dummy\n  properties: {api_key: k1}\n')).status, 201);
  const next = 'cpis:\n- name: one\n  type: dummy\n  properties: {api_key: k2}\n- name: two\n  type: dummy\n';
  const res = await postYaml('/cpi_configs/diff', next);
  assert.equal(res.status, 200);
  assert.deepEqual(res.json().diff, [
    ['cpis:', null],
    ['- name: one', null],
    ['  properties:', null],
    ['    api_key: <redacted>', 'removed'],
    ['    api_key: <redacted>', 'added'],
    ['- name: two', 'added'],
    ['  type: dummy', 'added'],
  ]);
  const shown = await postYaml('/cpi_configs/diff?redact=false', next);
  assert.deepEqual(shown.json().diff[4], ['    api_key: k2', 'added']);
});

test('typed diff routes: bad YAML is a bad manifest (400, 440001); an empty body diffs to nothing', async () => {
  for (const path of ['/cloud_configs/diff', '/runtime_configs/diff', '/cpi_configs/diff']) {
    const bad = await postYaml(path, 'azs: [z1\n');
    assert.equal(bad.status, 400, path);
    assert.equal(bad.json().code, 440001);
    const list = await postYaml(path, '- a\n- b\n');
    assert.equal(list.status, 400, path);
  }
  const removed = await postYaml('/cloud_configs/diff?name=extra', '');
  assert.equal(removed.status, 200);
  assert.ok(removed.json().diff.length > 0);
  assert.ok(removed.json().diff.every(([, state]: [string, string]) => state === 'removed'));
});

test('POST /configs with expected_latest_id refuses with 412 when another version became the latest', async () => {
  const id = await createConfig('deploy', 'guarded', 'flags: []\n');
  const accepted = await postJson('/configs', { type: 'deploy', name: 'guarded', content: 'flags: [fix]\n', expected_latest_id: id });
  assert.equal(accepted.status, 201);
  const stale = await postJson('/configs', { type: 'deploy', name: 'guarded', content: 'flags: [recreate]\n', expected_latest_id: id });
  assert.equal(stale.status, 412);
  assert.deepEqual(stale.json(), { latest_id: accepted.json().id, expected_latest_id: id, description: `Latest Id: '${accepted.json().id}' does not match expected latest id` });
  const fresh = await postJson('/configs', { type: 'deploy', name: 'never-stored', content: 'flags: []\n', expected_latest_id: '1' });
  assert.equal(fresh.status, 412);
  assert.equal(fresh.json().latest_id, null);
});
