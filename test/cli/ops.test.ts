// go-patch ops files (src/manifest/ops.ts): what `capstan -o` / `interpolate -o` do to a manifest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyOperations, parseOpsFile, type SourcedOperation } from '../../src/manifest/ops.js';

const manifest = () => ({
  name: 'nginx',
  releases: [{ name: 'nginx', version: '1' }],
  instance_groups: [
    { name: 'web', instances: 1, jobs: [{ name: 'nginx', properties: { port: 80 } }], networks: [{ name: 'default' }] },
    { name: 'worker', instances: 2, jobs: [] },
  ],
  update: { canaries: 1 },
});

const ops = (yaml: string, file = 'ops.yml'): SourcedOperation[] => parseOpsFile(yaml, file);
const apply = (yaml: string, doc: unknown = manifest()) => applyOperations(doc, ops(yaml)) as any;

test('replace: a map key, an array index, a name= match, and a new last key', () => {
  const out = apply(`
- type: replace
  path: /update/canaries
  value: 2
- type: replace
  path: /instance_groups/1/instances
  value: 5
- type: replace
  path: /instance_groups/name=web/jobs/name=nginx/properties/port
  value: 8080
- type: replace
  path: /update/max_in_flight
  value: 3
`);
  assert.equal(out.update.canaries, 2);
  assert.equal(out.update.max_in_flight, 3);
  assert.equal(out.instance_groups[1].instances, 5);
  assert.equal(out.instance_groups[0].jobs[0].properties.port, 8080);
});

test('the input document is not changed', () => {
  const doc = manifest();
  apply('- {type: remove, path: /update}', doc);
  assert.deepEqual(doc, manifest());
});

test('replace with - appends to an array; :before and :after insert next to a match', () => {
  const out = apply(`
- type: replace
  path: /instance_groups/-
  value: { name: errand, lifecycle: errand }
- type: replace
  path: /instance_groups/name=web:before
  value: { name: first }
- type: replace
  path: /instance_groups/name=web:after
  value: { name: second }
`);
  assert.deepEqual(
    out.instance_groups.map((g: { name: string }) => g.name),
    ['first', 'web', 'second', 'worker', 'errand'],
  );
});

test('? makes a path optional: replace creates the missing maps and arrays, name=x? appends an item', () => {
  const out = apply(`
- type: replace
  path: /instance_groups/name=web/jobs/name=nginx/properties/tls?/certificate
  value: ((cert))
- type: replace
  path: /addons?/name=dns?/jobs
  value: [{ name: bosh-dns }]
- type: replace
  path: /instance_groups/name=web/jobs/name=exporter?
  value: { name: exporter, release: prometheus }
`);
  assert.deepEqual(out.instance_groups[0].jobs[0].properties.tls, { certificate: '((cert))' });
  assert.deepEqual(out.addons, [{ name: 'dns', jobs: [{ name: 'bosh-dns' }] }]);
  assert.deepEqual(out.instance_groups[0].jobs[1], { name: 'exporter', release: 'prometheus' });
});

test('remove: a key, an array item by index and by name=; optional paths that are missing are no-ops', () => {
  const out = apply(`
- type: remove
  path: /update
- type: remove
  path: /instance_groups/name=worker
- type: remove
  path: /instance_groups/0/networks/0
- type: remove
  path: /properties?/foo
- type: remove
  path: /instance_groups/name=nope?
`);
  assert.equal(out.update, undefined);
  assert.deepEqual(out.instance_groups.map((g: { name: string }) => g.name), ['web']);
  assert.deepEqual(out.instance_groups[0].networks, []);
  assert.equal(out.properties, undefined);
});

test('~1 and ~0 escape / and ~ inside a key', () => {
  const out = apply(`
- type: replace
  path: /properties?/a~1b~0c
  value: 1
`);
  assert.deepEqual(out.properties, { 'a/b~c': 1 });
});

test('replace at the root swaps the document; test checks values and absence', () => {
  assert.deepEqual(apply('- {type: replace, path: /, value: {name: other}}'), { name: 'other' });
  assert.doesNotThrow(() => apply('- {type: test, path: /update/canaries, value: 1}\n- {type: test, path: /nope, absent: true}'));
  assert.throws(() => apply('- {type: test, path: /update/canaries, value: 2}'), /Operation \[0\] in 'ops.yml' \(test '\/update\/canaries'\) failed/);
});

test('errors name the failing operation (index, file, type, path) and what was found', () => {
  assert.throws(
    () => apply('- {type: replace, path: /update/canaries, value: 1}\n- {type: replace, path: /instance_group/name=web/instances, value: 3}'),
    {
      message:
        "Operation [1] in 'ops.yml' (replace '/instance_group/name=web/instances') failed: Expected to find a map key 'instance_group' for path '/instance_group' (found map keys: 'instance_groups', 'name', 'releases', 'update')",
    },
  );
  assert.throws(
    () => apply('- {type: replace, path: /instance_groups/name=db/instances, value: 3}'),
    { message: "Operation [0] in 'ops.yml' (replace '/instance_groups/name=db/instances') failed: Expected to find exactly one matching array item for path '/instance_groups/name=db' but found 0" },
  );
  assert.throws(
    () => apply('- {type: remove, path: /instance_groups/7}'),
    { message: "Operation [0] in 'ops.yml' (remove '/instance_groups/7') failed: Expected to find array index '7' but found array of length '2' for path '/instance_groups/7'" },
  );
  assert.throws(
    () => apply('- {type: replace, path: /name/first, value: x}'),
    { message: "Operation [0] in 'ops.yml' (replace '/name/first') failed: Expected to find a map at path '/name' but found 'string'" },
  );
  assert.throws(() => apply('- {type: remove, path: /update/nope}'), /Expected to find a map key 'nope' for path '\/update\/nope' \(found map keys: 'canaries'\)/);
});

test('malformed ops files are refused with the operation index', () => {
  assert.throws(() => ops('- {type: replace, path: /a}'), { message: "Operation [0] in 'ops.yml' (replace '/a'): Missing value" });
  assert.throws(() => ops('- {type: upsert, path: /a, value: 1}'), { message: "Operation [0] in 'ops.yml': Unknown operation type 'upsert'" });
  assert.throws(() => ops('- {type: remove}'), { message: "Operation [0] in 'ops.yml': Missing path" });
  assert.throws(() => ops('- {type: remove, path: a}'), { message: "Operation [0] in 'ops.yml': Expected path 'a' to start with '/'" });
  assert.throws(() => ops('type: remove'), /Expected ops file 'ops.yml' to be a YAML array of operations/);
});
