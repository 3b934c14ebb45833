// YAML helpers: YAML 1.1 scalars, source lines for paths, sorted stringify.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseYaml, lineOf, stringifyYaml, formatPath, YamlSyntaxError } from '../../src/common/yaml.js';

const TEXT = `top:
  flags: [yes, no, on, off, y, n, "yes", true]
  list:
  - name: a
  - name: b
    nested:
      key: 1
mode: 0755
`;

test('YAML 1.1 rules: yes/no/on/off/y/n are booleans, quoted ones stay strings, 0755 is octal', () => {
  const { value } = parseYaml(TEXT, 'x.yml');
  assert.deepEqual((value as any).top.flags, [true, false, true, false, true, false, 'yes', true]);
  assert.equal((value as any).mode, 0o755);
});

test('lineOf gives the line of a path, or of the deepest existing parent', () => {
  const parsed = parseYaml(TEXT, 'x.yml');
  assert.equal(lineOf(parsed, []), 1);
  assert.equal(lineOf(parsed, ['top', 'list', 1]), 5);
  assert.equal(lineOf(parsed, ['top', 'list', 1, 'nested', 'key']), 7);
  assert.equal(lineOf(parsed, ['top', 'list', 1, 'missing']), 5);
  assert.equal(lineOf(parsed, ['top', 'list', 9]), 3);
  assert.equal(lineOf(parsed, ['mode']), 8);
  assert.equal(formatPath(['instance_groups', 2, 'jobs', 0, 'release']), 'instance_groups[2].jobs[0].release');
});

test('syntax errors carry file and line', () => {
  assert.throws(() => parseYaml('a: 1\nb: [1, 2\nc: 3\n', 'bad.yml'), (err: unknown) => {
    assert.ok(err instanceof YamlSyntaxError);
    assert.equal(err.file, 'bad.yml');
    assert.ok(err.line != null && err.line >= 2);
    return true;
  });
});

test('stringifyYaml sorts keys and quotes strings YAML 1.1 would read as booleans', () => {
  assert.equal(stringifyYaml({ b: { z: 1, a: 'on' }, a: ['yes', 'plain'] }), 'a:\n  - "yes"\n  - plain\nb:\n  a: "on"\n  z: 1\n');
});
