// Deployment manifest parsing: BOSH defaults, YAML 1.1, and errors naming file, path and line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDeploymentManifest, effectiveUpdate, ManifestError } from '../../src/manifest/index.js';

const MANIFEST = `---
name: web
releases:
- name: nginx
  version: latest
- {name: tools, version: 1.2}
stemcells:
- alias: default
  os: debian-bookworm
  version: latest
update:
  canaries: 1
  max_in_flight: 50%
  canary_watch_time: 1000-30000
  update_watch_time: 5000
instance_groups:
- name: nginx
  instances: 2
  azs: [z1]
  vm_type: default
  stemcell: default
  networks: [{name: default}]
  jobs:
  - name: nginx
    release: nginx
    properties:
      nginx: {port: 8080}
- name: smoke-test
  lifecycle: errand
  instances: 1
  stemcell: default
  networks: [{name: default}]
  update:
    canaries: 0
    update_watch_time: "100 - 200"
  jobs:
  - name: smoke-test
    release: tools
`;

function expectError(text: string, check: { path: string; line: number | null; reason: RegExp }) {
  assert.throws(
    () => parseDeploymentManifest(text, 'manifest.yml'),
    (err: unknown) => {
      assert.ok(err instanceof ManifestError, `expected a ManifestError, got ${String(err)}`);
      assert.equal(err.file, 'manifest.yml');
      assert.equal(err.path, check.path);
      assert.equal(err.line, check.line);
      assert.match(err.reason, check.reason);
      assert.equal(err.message, `manifest.yml${check.line != null ? `:${check.line}` : ''}: ${check.path ? `${check.path}: ` : ''}${err.reason}`);
      return true;
    },
  );
}

test('a valid manifest gets BOSH defaults: lifecycle, serial, watch times in ms, stringified versions', () => {
  const m = parseDeploymentManifest(MANIFEST, 'manifest.yml');
  assert.equal(m.name, 'web');
  assert.deepEqual(m.releases[1], { name: 'tools', version: '1.2' });
  assert.deepEqual(m.update, {
    canaries: 1,
    max_in_flight: '50%',
    canary_watch_time: { min: 1000, max: 30000 },
    update_watch_time: { min: 5000, max: 5000 },
    serial: true,
  });
  const [nginx, smoke] = m.instance_groups;
  assert.equal(nginx.lifecycle, 'service');
  assert.equal(smoke.lifecycle, 'errand');
  assert.deepEqual(nginx.jobs[0].properties, { nginx: { port: 8080 } });
  assert.deepEqual(effectiveUpdate(m, nginx), m.update);
  assert.deepEqual(effectiveUpdate(m, smoke), { ...m.update, canaries: 0, update_watch_time: { min: 100, max: 200 } });
});

test('a missing key names its path and the line of the mapping that lacks it', () => {
  const text = MANIFEST.replace('    release: nginx\n', '');
  expectError(text, { path: 'instance_groups[0].jobs[0].release', line: 24, reason: /Required property 'release' was not specified/ });
  expectError(MANIFEST.replace(/^update:\n(  .*\n)+/m, ''), { path: 'update', line: 2, reason: /Required property 'update'/ });
});

test('a value of the wrong type names path and line', () => {
  expectError(MANIFEST.replace('instances: 2', 'instances: two'), {
    path: 'instance_groups[0].instances',
    line: 18,
    reason: /Expected number, got the string 'two'/,
  });
  expectError(MANIFEST.replace('lifecycle: errand', 'lifecycle: batch'), {
    path: 'instance_groups[1].lifecycle',
    line: 29,
    reason: /service.*errand/,
  });
  expectError(MANIFEST.replace('canary_watch_time: 1000-30000', 'canary_watch_time: soon'), {
    path: 'update.canary_watch_time',
    line: 14,
    reason: /Expected milliseconds as an integer or a 'min-max' range/,
  });
});

test('a YAML syntax error names file and line', () => {
  const broken = MANIFEST.replace('  azs: [z1]', '  azs: [z1');
  assert.throws(() => parseDeploymentManifest(broken, 'deploy/manifest.yml'), (err: unknown) => {
    assert.ok(err instanceof ManifestError);
    assert.equal(err.file, 'deploy/manifest.yml');
    assert.ok(err.line != null && err.line >= 19 && err.line <= 20, `line ${err.line}`);
    assert.match(err.message, /^deploy\/manifest\.yml:\d+: YAML syntax error/);
    return true;
  });
  expectError('- just\n- a list\n', { path: '', line: 1, reason: /Expected a YAML mapping at the top level/ });
});

test('YAML 1.1: yes/no/on/off/y/n are booleans', () => {
  const text = MANIFEST.replace('  update_watch_time: 5000\n', '  update_watch_time: 5000\n  serial: no\n').replace(
    '      nginx: {port: 8080}',
    '      nginx: {port: 8080, gzip: on, ssl: off, http2: yes, legacy: n, quoted: "yes"}',
  );
  const m = parseDeploymentManifest(text, 'manifest.yml');
  assert.equal(m.update.serial, false);
  assert.deepEqual(m.instance_groups[0].jobs[0].properties, {
    nginx: { port: 8080, gzip: true, ssl: false, http2: true, legacy: false, quoted: 'yes' },
  });
});

test('references to unknown releases and stemcell aliases are errors at the referencing line', () => {
  expectError(MANIFEST.replace('    release: tools', '    release: toolz'), {
    path: 'instance_groups[1].jobs[0].release',
    line: 38,
    reason: /Job 'smoke-test' in instance group 'smoke-test' references an unknown release 'toolz'/,
  });
  expectError(MANIFEST.replace('  stemcell: default\n  networks: [{name: default}]\n  update', '  stemcell: other\n  networks: [{name: default}]\n  update'), {
    path: 'instance_groups[1].stemcell',
    line: 31,
    reason: /unknown stemcell alias 'other'/,
  });
  expectError(MANIFEST.replace('- name: smoke-test\n  lifecycle', '- name: nginx\n  lifecycle'), {
    path: 'instance_groups[1].name',
    line: 28,
    reason: /Duplicate instance group name 'nginx'/,
  });
});
