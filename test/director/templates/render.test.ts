// The ERB renderer against real Ruby: p() with defaults, missing-property error text with file and
// line, if_p/else, spec fields, archive layout and a stable configuration hash.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { list as listTar } from 'tar';
import { RubyTemplateWorker } from '../../../src/director/templates/ruby-worker.js';
import { renderInstance, filterJobProperties, type InstanceJob } from '../../../src/director/templates/render.js';
import { writeRenderedArchive } from '../../../src/director/templates/archive.js';
import type { JobManifest } from '../../../src/release/types.js';

const worker = new RubyTemplateWorker();
const dirs: string[] = [];
after(async () => {
  await worker.close();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const manifest: JobManifest = {
  name: 'nginx',
  templates: { 'nginx.conf.erb': 'config/nginx.conf', 'ctl.erb': 'bin/ctl' },
  packages: ['nginx'],
  properties: {
    'nginx.port': { default: 80 },
    'nginx.workers': { default: 2 },
    'nginx.server_name': {},
    'nginx.tls.cert': {},
  },
};

async function jobDir(templates: Record<string, string>, monit = 'check process nginx\n  group vcap\n'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'capstan-job-'));
  dirs.push(dir);
  await mkdir(join(dir, 'templates'));
  await writeFile(join(dir, 'monit'), monit);
  for (const [name, text] of Object.entries(templates)) await writeFile(join(dir, 'templates', name), text);
  return dir;
}

const spec = {
  deployment: 'web',
  name: 'nginx',
  index: 0,
  id: '2f1c9c7e-1111-4222-8333-444455556666',
  az: 'z1',
  bootstrap: true,
  address: '10.245.0.2',
  ip: '10.245.0.2',
  networks: { default: { ip: '10.245.0.2', netmask: '255.255.255.0', gateway: '10.245.0.1' } },
};

function job(dir: string, properties: Record<string, unknown>, m: JobManifest = manifest): InstanceJob {
  return { source: { name: m.name, version: 'v1', release: { name: 'nginx', version: '1' }, manifest: m, dir }, properties };
}

const conf = [
  'listen <%= p("nginx.port") %>;',
  'workers <%= p("nginx.workers") %>;',
  '<% if_p("nginx.tls.cert") do |cert| -%>',
  'ssl <%= cert %>;',
  '<% end.else do -%>',
  'no-ssl;',
  '<% end -%>',
  'name <%= p("nginx.server_name", "localhost") %>;',
  'addr <%= spec.address %> <%= spec.networks.default.ip %> <%= spec.id %> <%= spec.az %> <%= spec.bootstrap %>',
  'legacy <%= properties.nginx.port %> <%= name %>/<%= index %>',
].join('\n');

test('renders p() with manifest values and job.MF defaults, if_p/else and spec fields', async () => {
  const dir = await jobDir({ 'nginx.conf.erb': conf, 'ctl.erb': '#!/bin/bash\necho <%= p("nginx.port") %>\n' });
  const rendered = await renderInstance(worker, 'nginx', [job(dir, { nginx: { port: 8080 }, undeclared: 1 })], spec);
  const files = Object.fromEntries(rendered.jobs[0].files.map((f) => [f.dest, f.content]));
  assert.equal(
    files['config/nginx.conf'],
    [
      'listen 8080;',
      'workers 2;',
      'no-ssl;',
      'name localhost;',
      'addr 10.245.0.2 10.245.0.2 2f1c9c7e-1111-4222-8333-444455556666 z1 true',
      'legacy 8080 nginx/0',
    ].join('\n'),
  );
  assert.equal(files['bin/ctl'], '#!/bin/bash\necho 8080\n');
  assert.equal(rendered.jobs[0].monit, 'check process nginx\n  group vcap\n');

  const withTls = await renderInstance(worker, 'nginx', [job(dir, { nginx: { tls: { cert: 'PEM' } } })], spec);
  assert.match(withTls.jobs[0].files.find((f) => f.dest === 'config/nginx.conf')!.content, /^ssl PEM;$/m);
});

test('only declared properties reach the template, missing ones are nil', () => {
  assert.deepEqual(filterJobProperties(manifest, { nginx: { port: 1 }, other: 2 }), {
    nginx: { port: 1, workers: 2, server_name: null, tls: { cert: null } },
  });
});

test('a missing property fails with the template file and line', async () => {
  const dir = await jobDir({ 'nginx.conf.erb': 'a\nb\nname <%= p("nginx.server_name") %>\n', 'ctl.erb': 'ok' });
  await assert.rejects(renderInstance(worker, 'nginx', [job(dir, {})], spec), (err: Error) => {
    assert.equal(
      err.message,
      [
        "Unable to render jobs for instance group 'nginx'. Errors are:",
        "  - Unable to render templates for job 'nginx'. Errors are:",
        `    - Error filling in template 'nginx.conf.erb' (line 3: Can't find property '["nginx.server_name"]')`,
      ].join('\n'),
    );
    return true;
  });
});

test('an undeclared property is missing too, and link() is a clear error', async () => {
  const dir = await jobDir({ 'nginx.conf.erb': '<%= p("undeclared") %>', 'ctl.erb': '<%= link("db").p("x") %>' });
  await assert.rejects(renderInstance(worker, 'nginx', [job(dir, { undeclared: 1 })], spec), (err: Error) => {
    assert.match(err.message, /Error filling in template 'nginx.conf.erb' \(line 1: Can't find property '\["undeclared"\]'\)/);
    assert.match(err.message, /Error filling in template 'ctl.erb' \(line 1: Can't find link 'db'\)/);
    return true;
  });
});

test('archive holds <job>/monit and <job>/<dest>; configuration hash is stable and content-sensitive', async () => {
  const dir = await jobDir({ 'nginx.conf.erb': conf, 'ctl.erb': 'ctl' });
  const first = await renderInstance(worker, 'nginx', [job(dir, {})], spec);
  const second = await renderInstance(worker, 'nginx', [job(dir, {})], spec);
  const changed = await renderInstance(worker, 'nginx', [job(dir, { nginx: { port: 81 } })], spec);
  assert.match(first.configurationHash, /^[0-9a-f]{40}$/);
  assert.equal(first.configurationHash, second.configurationHash);
  assert.deepEqual(first.templateHashes, second.templateHashes);
  assert.notEqual(first.configurationHash, changed.configurationHash);
  assert.notEqual(first.templateHashes.nginx, changed.templateHashes.nginx);

  const out = await mkdtemp(join(tmpdir(), 'capstan-archive-'));
  dirs.push(out);
  const archive = join(out, 'rendered.tgz');
  await writeRenderedArchive(first.jobs, archive);
  const entries: string[] = [];
  await listTar({ file: archive, onReadEntry: (e) => { if (e.type === 'File') entries.push(e.path); } });
  assert.deepEqual(entries.sort(), ['nginx/.bosh/links.json', 'nginx/bin/ctl', 'nginx/config/nginx.conf', 'nginx/monit']);
});
