import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { interpolate, loadVars } from '../../src/cli/vars.js';

const dir = mkdtempSync(join(tmpdir(), 'capstan-vars-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('((vars)) from -v and --vars-file: whole values keep their YAML type, embedded ones become text', () => {
  const file = join(dir, 'vars.yml');
  writeFileSync(file, 'title: From file\nnet: { ip: 10.245.0.10 }\n');
  const vars = loadVars(['count=2', 'enabled=yes'], [file]);
  const out = parse(
    interpolate('# a comment\nname: nginx\ninstances: ((count))\nflag: ((enabled))\npage: "((title)) at ((net.ip))"\nother: ((unknown))\n', vars),
  );
  assert.deepEqual(out, { name: 'nginx', instances: 2, flag: true, page: 'From file at 10.245.0.10', other: '((unknown))' });
});

test('a -v flag without = is refused', () => {
  assert.throws(() => loadVars(['oops']), /Expected var 'oops' to be in format 'name=value'/);
});

test('without vars the manifest text is sent unchanged', () => {
  const text = 'name: nginx # keep me\n';
  assert.equal(interpolate(text, {}), text);
});
