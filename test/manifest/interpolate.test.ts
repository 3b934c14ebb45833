// ((placeholders)) in deployment manifests, and runtime-config addon rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyAddons, interpolate, manifestPlaceholders, parseDeploymentManifest, parseRuntimeConfig, placeholders } from '../../src/manifest/index.js';

const MANIFEST = `
name: app
releases: [{name: app, version: latest}]
stemcells: [{alias: default, os: debian-bookworm, version: latest}]
update: {canaries: 1, max_in_flight: 1, canary_watch_time: 1000, update_watch_time: 1000}
variables:
- {name: pw, type: password}
- {name: cert, type: certificate, options: {ca: ca}}
instance_groups:
- name: web
  instances: ((count))
  stemcell: default
  networks: [{name: default}]
  jobs:
  - name: web
    release: app
    properties:
      password: ((pw))
      url: https://user:((pw))@host/
      tls: ((cert))
      ca: ((!cert.ca))
`;

test('placeholders are found everywhere but in the variables section', () => {
  assert.deepEqual(manifestPlaceholders(MANIFEST, 'm.yml'), {
    declared: [{ name: 'pw', type: 'password' }, { name: 'cert', type: 'certificate', options: { ca: 'ca' } }],
    references: ['count', 'pw', 'cert', 'cert.ca'],
  });
  assert.deepEqual(placeholders({ variables: ['((x))'], a: ['((y))'] }, ['variables']), ['y']);
});

test('a whole-value placeholder takes the value with its type; inside a string its text', () => {
  const cert = { certificate: 'C', private_key: 'K', ca: 'A' };
  const manifest = parseDeploymentManifest(MANIFEST, 'm.yml', { variables: { count: 3, pw: 'secret', cert } });
  const group = manifest.instance_groups[0];
  assert.equal(group.instances, 3);
  assert.deepEqual(group.jobs[0].properties, { password: 'secret', url: 'https://user:secret@host/', tls: cert, ca: 'A' });
  assert.deepEqual(manifest.variables?.map((v) => v.name), ['pw', 'cert']);
});

test('a missing variable or key is an error naming it', () => {
  assert.throws(() => interpolate({ a: '((nope))' }, {}), /Failed to find variable 'nope'/);
  assert.throws(() => interpolate({ a: '((c.missing))' }, { c: { ca: 'x' } }), /Failed to find variable 'c': it has no key 'missing'/);
  assert.throws(() => parseDeploymentManifest(MANIFEST, 'm.yml', { variables: { pw: 'x' } }), /m\.yml: Failed to find variable 'count'/);
});

test('addons: include and exclude rules select instance groups; releases are merged', () => {
  const manifest = parseDeploymentManifest(MANIFEST.replace('((count))', '2'), 'm.yml');
  const twoGroups = { ...manifest, instance_groups: [manifest.instance_groups[0], { ...manifest.instance_groups[0], name: 'worker', lifecycle: 'errand' as const, jobs: [] }] };
  const config = parseRuntimeConfig(`
releases: [{name: os-conf, version: 3}]
addons:
- name: users
  jobs: [{name: user_add, release: os-conf}]
  include: {stemcell: [{os: debian-bookworm}]}
  exclude: {lifecycle: errand}
- name: web-only
  jobs: [{name: web-agent, release: os-conf, properties: {a: 1}}]
  include: {jobs: [{name: web, release: app}]}
`, 'runtime.yml');
  const result = applyAddons(twoGroups, [config]);
  assert.deepEqual(result.releases.map((r) => r.name), ['app', 'os-conf']);
  assert.deepEqual(result.instance_groups.map((g) => g.jobs.map((j) => j.name)), [['web', 'user_add', 'web-agent'], []]);
  assert.deepEqual(result.instance_groups[0].jobs[2].properties, { a: 1 });
  assert.throws(() => applyAddons(twoGroups, [{ releases: [{ name: 'app', version: '9' }], addons: [] }]), /conflicts with 'app\/latest'/);
});
