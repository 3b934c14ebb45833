// Final releases (create-release --final, finalize-release) and build reuse (.dev_builds/.final_builds),
// on a fixture release directory with a local release blobstore; git modifications refuse unless forced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { createRelease, finalizeRelease, readReleaseTarball } from '../../src/release/index.js';
import { nextDevVersion, nextFinalVersion } from '../../src/release/builds.js';
import { makeReleaseDir } from './helpers/fixtures.js';

async function withRelease(fn: (rel: string, tmp: string) => Promise<void>): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'capstan-final-test-'));
  try {
    const rel = join(tmp, 'release');
    await makeReleaseDir(rel);
    await writeFile(join(rel, 'config/final.yml'), `name: demo\nblobstore:\n  provider: local\n  options:\n    blobstore_path: ${join(tmp, 'store')}\n`);
    await fn(rel, tmp);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

const yaml = async (path: string) => parse(await readFile(path, 'utf8'));
const storeIds = (tmp: string) => (existsSync(join(tmp, 'store')) ? readdirSync(join(tmp, 'store')).sort() : []);

test('next dev and final versions follow bosh: dev after the newest dev or final, finals count up', () => {
  assert.equal(nextDevVersion(undefined, undefined), '0+dev.1');
  assert.equal(nextDevVersion('0+dev.9', undefined), '0+dev.10');
  assert.equal(nextDevVersion('0+dev.3', '2'), '2+dev.1');
  assert.equal(nextDevVersion('2+dev.4', '2'), '2+dev.5');
  assert.equal(nextDevVersion('0+dev.1', undefined, 1700000000), '0+dev.1700000000');
  assert.equal(nextFinalVersion(undefined), '1');
  assert.equal(nextFinalVersion('9'), '10');
  assert.equal(nextFinalVersion('1.2'), '1.3');
});

test('create-release --final: versions 1, 2; releases/ and .final_builds/ records; new archives uploaded once', async () => {
  await withRelease(async (rel, tmp) => {
    const cache_dir = join(tmp, 'cache');
    const dev = await createRelease(rel, { cache_dir });
    assert.equal(dev.manifest.version, '0+dev.1');
    assert.deepEqual(storeIds(tmp), [], 'a dev release uploads nothing');
    const devIndex = await yaml(join(rel, '.dev_builds/packages/app/index.yml'));
    const appFp = dev.manifest.packages.find((p) => p.name === 'app')!.fingerprint;
    assert.deepEqual(devIndex.builds[appFp], { version: appFp, sha1: dev.manifest.packages.find((p) => p.name === 'app')!.sha1 });

    const first = await createRelease(rel, { final: true, cache_dir });
    assert.equal(first.manifest.version, '1');
    assert.equal(first.manifestPath, join(rel, 'releases/demo/demo-1.yml'));
    assert.equal(first.tarballPath, join(rel, 'releases/demo/demo-1.tgz'));
    assert.deepEqual(Object.values((await yaml(join(rel, 'releases/demo/index.yml'))).builds), [{ version: '1' }]);
    assert.deepEqual(first.manifest.packages, dev.manifest.packages, 'the final release reuses the dev builds');
    const ids: string[] = [];
    for (const [kind, items] of [['jobs', first.manifest.jobs], ['packages', first.manifest.packages]] as const) {
      for (const item of items) {
        const entry = (await yaml(join(rel, '.final_builds', kind, item.name, 'index.yml'))).builds[item.fingerprint];
        assert.equal(entry.version, item.fingerprint);
        assert.equal(entry.sha1, item.sha1);
        assert.ok(entry.blobstore_id);
        assert.equal(await readFile(join(tmp, 'store', entry.blobstore_id), 'base64'), await readFile(join(cache_dir, item.sha1), 'base64'));
        ids.push(entry.blobstore_id);
      }
    }
    assert.deepEqual(storeIds(tmp), ids.sort());
    const read = await readReleaseTarball(first.tarballPath, join(tmp, 'out'));
    assert.equal(read.version, '1');

    // the next dev version builds on the final one
    assert.equal((await createRelease(rel, { cache_dir })).manifest.version, '1+dev.1');
    // a second final release with one changed package uploads only that package
    await writeFile(join(rel, 'src/app/main.txt'), 'changed\n');
    const second = await createRelease(rel, { final: true, cache_dir });
    assert.equal(second.manifest.version, '2');
    assert.equal(storeIds(tmp).length, ids.length + 1);
    await assert.rejects(createRelease(rel, { final: true, version: '2', cache_dir }), /Release 'demo' version '2' already exists/);
    const given = await createRelease(rel, { final: true, version: '5.1', cache_dir });
    assert.equal(given.manifest.version, '5.1');

    // an empty cache (a fresh clone): final builds come back from the blobstore, checked against their digest
    await rm(cache_dir, { recursive: true });
    await rm(join(rel, '.dev_builds'), { recursive: true });
    const again = await createRelease(rel, { cache_dir });
    assert.deepEqual(again.manifest.packages, given.manifest.packages);
    assert.equal(storeIds(tmp).length, ids.length + 1);
  });
});

test('finalize-release turns a dev tarball into a final release, with --name and --version', async () => {
  await withRelease(async (rel, tmp) => {
    const cache_dir = join(tmp, 'cache');
    const dev = await createRelease(rel, { cache_dir, tarball: join(tmp, 'dev.tgz') });
    const finalized = await finalizeRelease(join(tmp, 'dev.tgz'), rel, { cache_dir });
    assert.equal(finalized.manifest.version, '1');
    assert.equal(finalized.manifest.name, 'demo');
    assert.deepEqual(finalized.manifest.jobs, dev.manifest.jobs);
    assert.equal(storeIds(tmp).length, dev.manifest.jobs.length + dev.manifest.packages.length);
    assert.deepEqual(parse(await readFile(finalized.manifestPath, 'utf8')).version, '1');

    const renamed = await finalizeRelease(join(tmp, 'dev.tgz'), rel, { cache_dir, name: 'other', version: '7' });
    assert.equal(renamed.manifestPath, join(rel, 'releases/other/other-7.yml'));
    assert.equal(storeIds(tmp).length, dev.manifest.jobs.length + dev.manifest.packages.length, 'final builds are found by fingerprint');
    await assert.rejects(finalizeRelease(join(tmp, 'dev.tgz'), rel, { cache_dir, version: '1' }), /Release 'demo' version '1' already exists/);
  });
});

test('a release directory with uncommitted git changes is refused unless forced; the commit is recorded', async () => {
  await withRelease(async (rel, tmp) => {
    const git = (...args: string[]) => execFileSync('git', ['-C', rel, '-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { stdio: 'pipe' }).toString();
    git('init', '-q');
    await writeFile(join(rel, '.gitignore'), '.dev_builds\n.final_builds/**/*.tgz\ndev_releases\nreleases/**/*.tgz\nblobs\n');
    git('add', '-A');
    git('commit', '-q', '-m', 'initial');
    const head = git('rev-parse', '--short=8', 'HEAD').trim();
    const cache_dir = join(tmp, 'cache');
    const clean = await createRelease(rel, { cache_dir });
    assert.equal(clean.manifest.commit_hash, head);
    assert.equal(clean.manifest.uncommitted_changes, false);

    await writeFile(join(rel, 'src/app/main.txt'), 'dirty\n');
    await assert.rejects(createRelease(rel, { final: true, cache_dir }), /Git repository has local modifications:\n\n M src\/app\/main\.txt/);
    await assert.rejects(finalizeRelease(clean.tarballPath, rel, { cache_dir }), /Git repository has local modifications/);
    const forced = await createRelease(rel, { final: true, force: true, cache_dir });
    assert.equal(forced.manifest.uncommitted_changes, true);
    assert.equal(forced.manifest.version, '1');
  });
});
