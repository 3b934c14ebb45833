// Cloud config parsing: defaults, cross references, errors with file, path and line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCloudConfig, ManifestError } from '../../src/manifest/index.js';

const CLOUD_CONFIG = `azs:
- name: z1
- name: z2
vm_types:
- name: default
  cloud_properties: {cpus: 2}
networks:
- name: default
  subnets:
  - range: 10.245.0.0/24
    gateway: 10.245.0.1
    azs: [z1, z2]
    dns: [8.8.8.8]
    reserved: [10.245.0.1 - 10.245.0.9]
    static: [10.245.0.10-10.245.0.19, 10.245.0.30]
- name: outside
  type: dynamic
compilation:
  workers: 2
  network: default
  az: z1
  reuse_compilation_vms: yes
`;

function expectError(text: string, path: string, line: number, reason: RegExp) {
  assert.throws(
    () => parseCloudConfig(text, 'cloud-config.yml'),
    (err: unknown) => {
      assert.ok(err instanceof ManifestError, String(err));
      assert.deepEqual([err.file, err.path, err.line], ['cloud-config.yml', path, line]);
      assert.match(err.reason, reason);
      return true;
    },
  );
}

test('a cloud config parses with defaults for absent sections and network types', () => {
  const cc = parseCloudConfig(CLOUD_CONFIG, 'cloud-config.yml');
  assert.deepEqual(cc.azs.map((a) => a.name), ['z1', 'z2']);
  assert.deepEqual(cc.vm_types, [{ name: 'default', cloud_properties: { cpus: 2 } }]);
  assert.deepEqual(cc.disk_types, []);
  assert.deepEqual(cc.vm_extensions, []);
  assert.equal(cc.networks[0].type, 'manual');
  assert.deepEqual(cc.networks[0].subnets?.[0].reserved, ['10.245.0.1 - 10.245.0.9']);
  assert.equal(cc.networks[1].type, 'dynamic');
  assert.deepEqual(cc.compilation, { workers: 2, network: 'default', az: 'z1', reuse_compilation_vms: true });
});

test('cloud config errors name path and line', () => {
  expectError(CLOUD_CONFIG.replace('    gateway: 10.245.0.1\n', ''), 'networks[0].subnets[0].gateway', 10, /Required property 'gateway'/);
  expectError(CLOUD_CONFIG.replace('gateway: 10.245.0.1', 'gateway: 10.9.0.1'), 'networks[0].subnets[0].gateway', 11, /Gateway '10\.9\.0\.1' is not in range '10\.245\.0\.0\/24'/);
  expectError(CLOUD_CONFIG.replace('azs: [z1, z2]', 'azs: [z1, z3]'), 'networks[0].subnets[0].azs[1]', 12, /Unknown az 'z3'/);
  expectError(CLOUD_CONFIG.replace('10.245.0.30', '10.245.1.30'), 'networks[0].subnets[0].static[1]', 15, /'10\.245\.1\.30' is not an IP or IP range inside/);
  expectError(CLOUD_CONFIG.replace('  network: default', '  network: missing'), 'compilation.network', 20, /Compilation network 'missing' is not defined/);
  expectError(CLOUD_CONFIG.replace('  workers: 2', '  workers: 0'), 'compilation.workers', 19, /too small/i);
  expectError(CLOUD_CONFIG.replace(/compilation:\n(  .*\n)+/, ''), 'compilation', 1, /Required property 'compilation' was not specified/);
  expectError(CLOUD_CONFIG.replace('  type: dynamic', '  type: floating'), 'networks[1].type', 17, /manual.*dynamic.*vip/);
});

test('a YAML syntax error in a cloud config names file and line', () => {
  assert.throws(() => parseCloudConfig('azs:\n- name: z1\nnetworks: {\n', 'cc.yml'), /^ManifestError: cc\.yml:\d+: YAML syntax error/);
});
