// Safe extraction and deterministic creation of tarballs (src/common/tar.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readdir, utimes, readFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { safeExtract, createTgz } from '../../src/common/tar.js';
import { fileDigest } from '../../src/common/digest.js';
import { writeFiles, writeRawTgz, type RawEntry } from './helpers/fixtures.js';

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'capstan-tar-test-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const hostile: Array<[string, RawEntry[], RegExp]> = [
  ['a ../ entry', [{ path: 'ok.txt', content: 'fine' }, { path: '../escaped.txt', content: 'evil' }], /entry '\.\.\/escaped\.txt' has a '\.\.' path segment/],
  ['a ../ segment in the middle', [{ path: 'jobs/../../escaped.txt', content: 'evil' }], /entry 'jobs\/\.\.\/\.\.\/escaped\.txt' has a '\.\.' path segment/],
  ['an absolute path', [{ path: '/tmp/capstan-absolute-evil.txt', content: 'evil' }], /entry '\/tmp\/capstan-absolute-evil\.txt' has an absolute path/],
  ['a symlink to an absolute path', [{ path: 'link', type: 'symlink', linkpath: '/etc/passwd' }], /entry 'link' is a link to the absolute path '\/etc\/passwd'/],
  ['a symlink escaping the destination', [{ path: 'a/link', type: 'symlink', linkpath: '../../outside' }], /entry 'a\/link' is a link escaping the destination/],
  [
    'a chain of symlinks that escapes',
    [{ path: 'a/', type: 'dir' }, { path: 'a/l1', type: 'symlink', linkpath: '..' }, { path: 'a/l1/l2', type: 'symlink', linkpath: '..' }, { path: 'a/l1/l2/escaped.txt', content: 'evil' }],
    /entry 'a\/l1\/l2' goes through the symlink entry 'a\/l1'/,
  ],
  ['a hard link escaping the destination', [{ path: 'hard', type: 'hardlink', linkpath: '../outside' }], /entry 'hard' is a link escaping the destination/],
];

for (const [what, entries, message] of hostile) {
  test(`safeExtract rejects an archive with ${what}, naming archive and entry, extracting nothing`, async () => {
    await withTmp(async (dir) => {
      const archive = join(dir, 'hostile.tgz');
      await writeRawTgz(archive, entries);
      const dest = join(dir, 'dest', 'inner');
      await assert.rejects(safeExtract(archive, dest), (err: Error) => {
        assert.match(err.message, /Refusing to extract 'hostile\.tgz'/);
        assert.match(err.message, message);
        return true;
      });
      assert.equal(existsSync(dest), false, 'nothing is extracted');
      assert.equal(existsSync(join(dir, 'dest', 'escaped.txt')), false);
      assert.equal(existsSync('/tmp/capstan-absolute-evil.txt'), false);
    });
  });
}

test('safeExtract extracts an ordinary archive, including ./-prefixed entries and inner symlinks', async () => {
  await withTmp(async (dir) => {
    const archive = join(dir, 'ok.tgz');
    await writeRawTgz(archive, [
      { path: './', type: 'dir' },
      { path: './bin/', type: 'dir' },
      { path: './bin/run', content: 'echo hi\n' },
      { path: './current', type: 'symlink', linkpath: 'bin/run' },
    ]);
    await safeExtract(archive, join(dir, 'out'));
    assert.equal(await readFile(join(dir, 'out/bin/run'), 'utf8'), 'echo hi\n');
    assert.equal(await readFile(join(dir, 'out/current'), 'utf8'), 'echo hi\n');
  });
});

test('safeExtract names the archive when it is not a tarball', async () => {
  await withTmp(async (dir) => {
    const archive = join(dir, 'garbage.tgz');
    await writeFiles(dir, { 'garbage.tgz': 'this is not gzip' });
    await assert.rejects(safeExtract(archive, join(dir, 'out')), /garbage\.tgz/);
  });
});

test('createTgz gives the same bytes for the same inputs, whatever the mtimes', async () => {
  await withTmp(async (dir) => {
    await writeFiles(join(dir, 'src'), { 'b.txt': 'b', 'a/one.txt': '1', 'a/two.txt': '2' });
    await createTgz(join(dir, 'src'), join(dir, 'first.tgz'));
    await utimes(join(dir, 'src/a/one.txt'), new Date(), new Date('2001-02-03'));
    await createTgz(join(dir, 'src'), join(dir, 'second.tgz'));
    assert.equal(await fileDigest(join(dir, 'first.tgz')), await fileDigest(join(dir, 'second.tgz')));
    await safeExtract(join(dir, 'second.tgz'), join(dir, 'out'));
    assert.deepEqual((await readdir(join(dir, 'out'))).sort(), ['a', 'b.txt']);
    assert.equal((await stat(join(dir, 'out/a/two.txt'))).isFile(), true);
  });
});

test('externalSymlinks lets a package link outside itself, but never write through a link', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'capstan-symlinks-'));
  try {
    const pkg = join(dir, 'pkg.tgz');
    await writeRawTgz(pkg, [
      { path: 'bin/', type: 'dir' },
      { path: 'bin/ruby', type: 'symlink', linkpath: '/var/vcap/packages/ruby/bin/ruby' },
      { path: 'bin/tool', content: 'x' },
    ]);
    await assert.rejects(safeExtract(pkg, join(dir, 'strict')), /is a link to the absolute path/);
    await safeExtract(pkg, join(dir, 'out'), { externalSymlinks: true });
    assert.equal(await readFile(join(dir, 'out', 'bin', 'tool'), 'utf8'), 'x');

    const evil = join(dir, 'evil.tgz');
    await writeRawTgz(evil, [
      { path: 'up', type: 'symlink', linkpath: dir },
      { path: 'up/planted', content: 'x' },
    ]);
    await assert.rejects(safeExtract(evil, join(dir, 'out2'), { externalSymlinks: true }), /goes through the symlink entry 'up'/);
    assert.ok(!existsSync(join(dir, 'planted')), 'nothing written through the link');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
