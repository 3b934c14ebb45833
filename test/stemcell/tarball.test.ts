import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import { readStemcellTarball } from '../../src/stemcell/tarball.js';

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'capstan-stemcell-test-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Writes a stemcell tarball holding the given files (name -> content). */
async function stemcellTgz(dir: string, files: Record<string, string>): Promise<string> {
  const src = join(dir, 'src');
  await mkdir(src, { recursive: true });
  for (const [name, content] of Object.entries(files)) await writeFile(join(src, name), content);
  const tgz = join(dir, 'stemcell.tgz');
  await tar.c({ file: tgz, cwd: src, gzip: true }, Object.keys(files));
  return tgz;
}

const VALID_MF = `---
name: bosh-warden-boshlite-ubuntu-jammy-go_agent
version: 1.5
operating_system: ubuntu-jammy
sha1: 0123456789abcdef0123456789abcdef01234567
api_version: 3
stemcell_formats: [warden-tar, general-tar]
cloud_properties:
  infrastructure: warden
`;

test('reads stemcell.MF and extracts the image', async () => {
  await withTmp(async (dir) => {
    const tgz = await stemcellTgz(dir, { 'stemcell.MF': VALID_MF, image: 'rootfs bytes' });
    const manifest = await readStemcellTarball(tgz, join(dir, 'out'));
    assert.deepEqual(manifest, {
      name: 'bosh-warden-boshlite-ubuntu-jammy-go_agent',
      version: '1.5', // unquoted YAML number becomes the string BOSH uses
      operating_system: 'ubuntu-jammy',
      sha1: '0123456789abcdef0123456789abcdef01234567',
      api_version: 3,
      stemcell_formats: ['warden-tar', 'general-tar'],
      cloud_properties: { infrastructure: 'warden' },
    });
    assert.ok(existsSync(join(dir, 'out', 'image')));
  });
});

test('operating_system defaults to the name', async () => {
  await withTmp(async (dir) => {
    const tgz = await stemcellTgz(dir, { 'stemcell.MF': 'name: light\nversion: "7"\nsha1: abc\n', image: '' });
    const manifest = await readStemcellTarball(tgz, join(dir, 'out'));
    assert.equal(manifest.operating_system, 'light');
    assert.equal(manifest.version, '7');
  });
});

test('names the missing required field', async () => {
  await withTmp(async (dir) => {
    const tgz = await stemcellTgz(dir, { 'stemcell.MF': 'name: s\nversion: "1"\n', image: 'x' });
    await assert.rejects(readStemcellTarball(tgz, join(dir, 'out')), {
      message: "Invalid stemcell 'stemcell.tgz': stemcell.MF is missing 'sha1'",
    });
  });
});

test('rejects a wrongly typed field', async () => {
  await withTmp(async (dir) => {
    const tgz = await stemcellTgz(dir, { 'stemcell.MF': 'name: s\nversion: "1"\nsha1: a\nstemcell_formats: docker\n', image: 'x' });
    await assert.rejects(readStemcellTarball(tgz, join(dir, 'out')), /stemcell\.MF 'stemcell_formats' /);
  });
});

test('rejects a tarball without stemcell.MF or without image', async () => {
  await withTmp(async (dir) => {
    const noMf = await stemcellTgz(join(dir, 'a'), { image: 'x' });
    await assert.rejects(readStemcellTarball(noMf, join(dir, 'a', 'out')), /stemcell\.MF not found/);
    const noImage = await stemcellTgz(join(dir, 'b'), { 'stemcell.MF': VALID_MF });
    await assert.rejects(readStemcellTarball(noImage, join(dir, 'b', 'out')), /image not found/);
  });
});

test('rejects a stemcell.MF that is not a YAML hash', async () => {
  await withTmp(async (dir) => {
    const tgz = await stemcellTgz(dir, { 'stemcell.MF': '- just\n- a list\n', image: 'x' });
    await assert.rejects(readStemcellTarball(tgz, join(dir, 'out')), /stemcell\.MF must be a YAML hash/);
  });
});

test('refuses archive entries escaping the destination', async () => {
  await withTmp(async (dir) => {
    const src = join(dir, 'src', 'inner');
    await mkdir(src, { recursive: true });
    await writeFile(join(dir, 'src', 'evil'), 'x');
    await writeFile(join(src, 'stemcell.MF'), VALID_MF);
    const tgz = join(dir, 'evil.tgz');
    // an entry named ../evil, as a hostile tarball would carry
    await tar.c({ file: tgz, cwd: src, gzip: true, preservePaths: true }, ['stemcell.MF', '../evil']);
    await assert.rejects(readStemcellTarball(tgz, join(dir, 'x', 'out')), /'\.\.\/evil'/);
    assert.ok(!existsSync(join(dir, 'x', 'evil')), 'nothing was written outside the destination');
  });
});
