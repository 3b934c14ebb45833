// "latest" must mean the newest release or stemcell, also for Capstan's content-hash stemcell versions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newestFirst } from '../../../src/director/deploy/releases.js';

test('dev release versions order numerically', () => {
  const rows = [
    { id: 1, version: '0+dev.9' },
    { id: 2, version: '0+dev.10' },
    { id: 3, version: '0+dev.2' },
  ];
  assert.deepEqual(newestFirst(rows).map((r) => r.version), ['0+dev.10', '0+dev.9', '0+dev.2']);
});

test('content-hash stemcell versions: the later upload is the latest, whatever the hashes spell', () => {
  const rows = [
    { id: 4, version: '1.2f8f79398520' },
    { id: 7, version: '1.0a1b2c3d4e5f' }, // uploaded later, sorts lower as text
    { id: 5, version: '1.49d344acff4e' },
  ];
  assert.equal(newestFirst(rows)[0].version, '1.0a1b2c3d4e5f');
});

test('numeric stemcell versions still order by number, not by upload', () => {
  const rows = [
    { id: 9, version: '1.100' },
    { id: 10, version: '1.99' },
  ];
  assert.equal(newestFirst(rows)[0].version, '1.100');
});
