// examples/nginx: the release the demo deploys builds with create-release, and its manifest and
// cloud config parse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, readdir } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRelease, readReleaseTarball, readJobArchive } from '../../src/release/index.js';
import { parseDeploymentManifest, parseCloudConfig } from '../../src/manifest/index.js';
import { safeExtract } from '../../src/common/tar.js';

const EXAMPLE = resolve(import.meta.dirname, '../../examples/nginx');

function blobsPresent(): boolean {
  const dir = join(EXAMPLE, 'blobs/nginx');
  if (!existsSync(dir)) return false;
  const files = readdirSync(dir);
  return ['nginx_', 'nginx-common_'].every((prefix) => files.some((f) => f.startsWith(prefix) && f.endsWith('.deb')));
}

test('examples/nginx manifest and cloud config parse', async () => {
  const manifest = parseDeploymentManifest(await readFile(join(EXAMPLE, 'manifest.yml'), 'utf8'), 'examples/nginx/manifest.yml');
  assert.equal(manifest.name, 'nginx');
  assert.deepEqual(manifest.stemcells, [{ alias: 'default', os: 'debian-bookworm', version: 'latest' }]);
  const [nginx, smoke] = manifest.instance_groups;
  assert.deepEqual([nginx.name, nginx.instances, nginx.lifecycle, nginx.azs, nginx.vm_type], ['nginx', 1, 'service', ['z1'], 'default']);
  assert.deepEqual([smoke.name, smoke.lifecycle, smoke.jobs[0].name], ['smoke-test', 'errand', 'smoke-test']);
  const cc = parseCloudConfig(await readFile(join(EXAMPLE, 'cloud-config.yml'), 'utf8'), 'examples/nginx/cloud-config.yml');
  assert.equal(cc.networks[0].subnets?.[0].range, '10.245.0.0/24');
  assert.deepEqual([cc.compilation.workers, cc.compilation.network, cc.compilation.az], [2, 'default', 'z1']);
});

test('create-release builds examples/nginx', async (t) => {
  if (!blobsPresent()) {
    t.skip('examples/nginx/blobs/nginx/*.deb missing: run scripts/fetch-example-blobs');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'capstan-nginx-release-'));
  try {
    // work on a copy so the test leaves examples/nginx/dev_releases alone
    const rel = join(dir, 'nginx');
    await cp(EXAMPLE, rel, { recursive: true, filter: (src) => !src.includes('dev_releases') });
    const created = await createRelease(rel, { tarball: join(dir, 'nginx.tgz') });
    assert.equal(created.manifest.name, 'nginx');
    assert.equal(created.manifest.version, '0+dev.1');
    assert.deepEqual(created.manifest.jobs.map((j) => [j.name, j.packages]), [['nginx', ['nginx']], ['smoke-test', []]]);
    assert.deepEqual(created.manifest.packages.map((p) => p.name), ['nginx']);

    const out = join(dir, 'out');
    assert.deepEqual(await readReleaseTarball(created.tarballPath, out), created.manifest);
    const pkg = join(dir, 'pkg');
    await safeExtract(join(out, 'packages/nginx.tgz'), pkg);
    const debs = (await readdir(join(pkg, 'nginx'))).sort();
    assert.equal(debs.length, 2);
    assert.match(debs[0], /^nginx-common_.*_all\.deb$/);
    assert.match(debs[1], /^nginx_.*\.deb$/);
    assert.ok(existsSync(join(pkg, 'packaging')));

    const job = await readJobArchive(join(out, 'jobs/nginx.tgz'), join(dir, 'job'));
    assert.deepEqual(Object.values(job.templates).sort(), ['bin/ctl', 'bin/pre-start', 'config/nginx.conf', 'html/index.html']);
    assert.equal(job.properties['nginx.port'].default, 80);
    assert.match(await readFile(join(dir, 'job/templates/nginx.conf.erb'), 'utf8'), /listen <%= p\('nginx\.port'\) %>/);
    const errand = await readJobArchive(join(out, 'jobs/smoke-test.tgz'), join(dir, 'errand'));
    assert.deepEqual(errand.templates, { 'bin/run.erb': 'bin/run' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
