// Persistent disks end to end (dummy CPI: a disk is a directory, the dummy agent "mounts" it by making
// <vm>/vcap/store a symlink to it): a deploy with persistent_disk creates and mounts a disk per
// instance; data written on it survives --recreate; a bigger disk migrates the data and orphans the
// old disk; scaling down orphans the disk, `orphaned-disks` lists it and `delete-disk` deletes it;
// attach-disk gives a hard-stopped instance an orphaned disk; cloud check finds a disk deleted behind
// the director's back and a disk the agent lost, and the resolutions fix them; deleting the deployment
// orphans its disks and `clean-up --all` deletes them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../../src/common/logging.js';
import { DummyCpi } from '../../../src/cpi/dummy/dummy-cpi.js';
import { DEPLOYMENT, startDay2Env, type Day2Env } from '../../support/day2-env.js';
import { instanceInfos, type InstanceInfo } from '../../support/day2-queries.js';
import { assertShape } from '../../support/day2-shapes.js';

type Info = InstanceInfo & { disk_cid: string | null; disk_cids: string[] };

interface OrphanedDisk {
  disk_cid: string;
  size: number;
  az: string | null;
  deployment_name: string;
  instance_name: string;
  cloud_properties: Record<string, unknown>;
  orphaned_at: string;
}

interface Problem {
  id: number;
  type: string;
  description: string;
  resolutions: Array<{ name: string; plan: string }>;
}

let env: Day2Env;
let cpi: DummyCpi;

before(async () => {
  env = await startDay2Env(2);
  cpi = new DummyCpi({ baseDir: env.paths.dummyCpi, agent: { mbus: 'nats://127.0.0.1:1', blobstore: { provider: 'local', options: {} } }, logger: createLogger('disks-test', undefined, 'silent') });
});
after(async () => {
  await env?.close();
});

/** The day2 manifest with `instances` tickers, each with a persistent disk of `size` MB. */
function manifestWithDisk(instances: number, size: number): string {
  const text = env.manifest(instances).replace(/(- name: ticker\n {2}instances: \d+\n)/, `$1  persistent_disk: ${size}\n`);
  assert.match(text, new RegExp(`persistent_disk: ${size}`));
  return text;
}

function deploy(manifest: string, ...flags: string[]): string {
  const file = join(env.work, 'disk-manifest.yml');
  writeFileSync(file, manifest);
  return env.capstan('-n', '-d', DEPLOYMENT, 'deploy', file, ...flags);
}

const infos = async () => (await instanceInfos(env)) as Info[];
const byIndex = (all: Info[], index: number) => all.find((i) => i.index === index)!;
const store = (vmCid: string) => join(env.paths.dummyCpi, 'vms', vmCid, 'vcap', 'store');
const orphans = () => env.client.getJson<OrphanedDisk[]>('/disks', { orphaned: true });

async function scan(): Promise<Problem[]> {
  const task = await env.task('POST', `/deployments/${DEPLOYMENT}/scans`, { contentType: 'application/json' });
  assert.equal(task.state, 'done', task.result ?? '');
  return env.client.getJson<Problem[]>(`/deployments/${DEPLOYMENT}/problems`);
}

async function resolve(problem: Problem, resolution: string): Promise<void> {
  const task = await env.task('PUT', `/deployments/${DEPLOYMENT}/problems`, { body: JSON.stringify({ resolutions: { [problem.id]: resolution } }), contentType: 'application/json' });
  assert.equal(task.state, 'done', task.result ?? '');
  assert.equal(task.result, '1 resolved');
}

test('persistent disks through the director', async (t) => {
  await t.test('deploy with persistent_disk: one disk per instance, attached and mounted on its VM', async () => {
    const out = deploy(manifestWithDisk(2, 1024));
    assert.match(out, /Updating instance ticker/);
    for (const info of await infos()) {
      assert.ok(info.disk_cid, `instance ${info.index} has a disk`);
      assert.deepEqual(info.disk_cids, [info.disk_cid]);
      const record = await cpi.diskRecord(info.disk_cid);
      assert.equal(record?.size_mb, 1024);
      assert.equal(record?.vm_cid, info.vm_cid);
      assert.equal(realpathSync(store(info.vm_cid!)), realpathSync(cpi.diskPath(info.disk_cid)), 'the store is the disk');
      assert.equal(info.job_state, 'running');
    }
    const first = byIndex(await infos(), 0);
    writeFileSync(join(store(first.vm_cid!), 'data.txt'), 'precious');
  });

  await t.test('--recreate: new VMs, same disks, the data is still there', async () => {
    const before = await infos();
    deploy(manifestWithDisk(2, 1024), '--recreate');
    const afterwards = await infos();
    for (const old of before) {
      const now = byIndex(afterwards, old.index);
      assert.notEqual(now.vm_cid, old.vm_cid, 'the VM was recreated');
      assert.equal(now.disk_cid, old.disk_cid, 'the disk was kept');
      assert.equal((await cpi.diskRecord(now.disk_cid!))?.vm_cid, now.vm_cid);
    }
    assert.equal(readFileSync(join(store(byIndex(afterwards, 0).vm_cid!), 'data.txt'), 'utf8'), 'precious');
  });

  await t.test('a bigger disk: the data migrates to a new disk, the old one is orphaned', async () => {
    const before = byIndex(await infos(), 0);
    deploy(manifestWithDisk(2, 2048));
    const now = byIndex(await infos(), 0);
    assert.equal(now.vm_cid, before.vm_cid, 'no VM recreated for a disk change');
    assert.notEqual(now.disk_cid, before.disk_cid);
    assert.equal((await cpi.diskRecord(now.disk_cid!))?.size_mb, 2048);
    assert.equal(readFileSync(join(store(now.vm_cid!), 'data.txt'), 'utf8'), 'precious');
    const orphan = (await orphans()).find((d) => d.disk_cid === before.disk_cid);
    assert.ok(orphan, 'the old disk is orphaned');
    assertShape(orphan, { disk_cid: 'string', size: 'number', az: 'string|null', deployment_name: 'string', instance_name: 'string', cloud_properties: 'object', orphaned_at: 'string' }, 'GET /disks entry (director-api.md §2.10)');
    assert.equal(orphan.size, 1024);
    assert.equal(orphan.deployment_name, DEPLOYMENT);
    assert.equal(orphan.instance_name, `ticker/${before.id}`);
    assert.equal(orphan.az, 'z1');
    assert.deepEqual(orphan.cloud_properties, {});
    assert.match(orphan.orphaned_at, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000$/);
    assert.ok(await cpi.diskRecord(before.disk_cid!), 'an orphaned disk is kept in the cloud');
    assert.equal(existsSync(join(cpi.diskPath(before.disk_cid!), 'data.txt')), true);
  });

  await t.test('--recreate-persistent-disks replaces every disk, keeping the data', async () => {
    const before = await infos();
    deploy(manifestWithDisk(2, 2048), '--recreate-persistent-disks');
    const now = await infos();
    for (const old of before) assert.notEqual(byIndex(now, old.index).disk_cid, old.disk_cid);
    assert.equal(readFileSync(join(store(byIndex(now, 0).vm_cid!), 'data.txt'), 'utf8'), 'precious');
    const orphaned = (await orphans()).map((d) => d.disk_cid);
    for (const old of before) assert.ok(orphaned.includes(old.disk_cid!));
  });

  await t.test('persistent_disk_type: other cloud properties of the same size also migrate to a new disk', async () => {
    const [cloud] = await env.client.getJson<Array<{ content: string }>>('/configs', { type: 'cloud', latest: true });
    const file = join(env.work, 'cloud-with-disks.yml');
    writeFileSync(file, `${cloud.content}\ndisk_types: [{name: fast, disk_size: 2048, cloud_properties: {type: ssd}}]\n`);
    env.capstan('-n', 'update-cloud-config', file);
    const before = byIndex(await infos(), 0);
    deploy(manifestWithDisk(2, 2048).replace('persistent_disk: 2048', 'persistent_disk_type: fast'));
    const now = byIndex(await infos(), 0);
    assert.notEqual(now.disk_cid, before.disk_cid);
    assert.deepEqual((await cpi.diskRecord(now.disk_cid!))?.cloud_properties, { type: 'ssd' });
    assert.equal(readFileSync(join(store(now.vm_cid!), 'data.txt'), 'utf8'), 'precious');
  });

  await t.test('scaling down orphans the disk; orphaned-disks lists it, delete-disk deletes it', async () => {
    const second = byIndex(await infos(), 1);
    deploy(manifestWithDisk(1, 2048));
    assert.deepEqual((await infos()).map((i) => i.index), [0]);
    const orphan = (await orphans()).find((d) => d.disk_cid === second.disk_cid);
    assert.ok(orphan, 'the deleted instance\'s disk is orphaned');
    assert.equal(orphan.instance_name, `ticker/${second.id}`);
    assert.match(env.capstan('orphaned-disks'), new RegExp(second.disk_cid!));

    const out = env.capstan('-n', 'delete-disk', second.disk_cid!);
    assert.match(out, /Deleting orphaned disk/);
    assert.equal((await orphans()).some((d) => d.disk_cid === second.disk_cid), false);
    assert.equal(await cpi.diskRecord(second.disk_cid!), undefined, 'deleted in the cloud');
    assert.equal(existsSync(cpi.diskPath(second.disk_cid!)), false);
  });

  await t.test('attach-disk: a hard-stopped instance gets an orphaned disk, mounted when it starts', async () => {
    const first = byIndex(await infos(), 0);
    const orphan = (await orphans()).find((d) => d.instance_name === `ticker/${first.id}` && d.size === 1024)!;
    writeFileSync(join(cpi.diskPath(orphan.disk_cid), 'old.txt'), 'from the first disk');
    env.capstan('-n', '-d', DEPLOYMENT, 'stop', `ticker/${first.id}`, '--hard');
    const out = env.capstan('-n', '-d', DEPLOYMENT, 'attach-disk', `ticker/${first.id}`, orphan.disk_cid);
    assert.match(out, /Attaching disk: ticker\//);
    env.capstan('-n', '-d', DEPLOYMENT, 'start', `ticker/${first.id}`);
    const now = byIndex(await infos(), 0);
    assert.equal(now.disk_cid, orphan.disk_cid);
    assert.equal(readFileSync(join(store(now.vm_cid!), 'old.txt'), 'utf8'), 'from the first disk');
    const orphaned = (await orphans()).map((d) => d.disk_cid);
    assert.ok(orphaned.includes(first.disk_cid!), 'the previous disk is orphaned');
    assert.equal(orphaned.includes(orphan.disk_cid), false, 'the attached disk is no longer an orphan');
  });

  await t.test('cloud check: a disk the agent lost is a mount_info_mismatch; reattach_disk mounts it again', async () => {
    const first = byIndex(await infos(), 0);
    rmSync(store(first.vm_cid!), { recursive: false, force: true }); // the symlink only
    mkdirSync(store(first.vm_cid!));
    const [problem] = await scan();
    assert.equal(problem?.type, 'mount_info_mismatch');
    assert.equal(problem.description, [
      'Inconsistent mount information:',
      `Record shows that disk '${first.disk_cid}' should be mounted on ${first.vm_cid}.`,
      'However it is currently :',
      '\tNot mounted in any VM',
    ].join('\n'));
    assert.deepEqual(problem.resolutions.map((r) => r.name), ['ignore', 'reattach_disk', 'reattach_disk_and_reboot']);
    await resolve(problem, 'reattach_disk');
    assert.equal(realpathSync(store(first.vm_cid!)), realpathSync(cpi.diskPath(first.disk_cid!)));
    assert.deepEqual(await scan(), []);
  });

  await t.test('cloud check: a disk deleted behind the director\'s back is missing_disk; delete_disk_reference forgets it', async () => {
    const first = byIndex(await infos(), 0);
    await cpi.simulate({ type: 'disk_missing', diskCid: first.disk_cid! });
    const problems = await scan();
    assert.equal(problems.length, 1, JSON.stringify(problems));
    const [problem] = problems;
    assert.equal(problem.type, 'missing_disk');
    assert.equal(problem.description, `Disk '${first.disk_cid}' (ticker/${first.id}, 1024M) is missing`);
    assert.deepEqual(problem.resolutions, [
      { name: 'ignore', plan: 'Skip for now' },
      { name: 'delete_disk_reference', plan: 'Delete disk reference (DANGEROUS!)' },
    ]);
    await resolve(problem, 'delete_disk_reference');
    assert.equal(byIndex(await infos(), 0).disk_cid, null);
    assert.deepEqual(await scan(), []);
    // the next deploy gives the instance a new disk
    deploy(manifestWithDisk(1, 2048));
    const now = byIndex(await infos(), 0);
    assert.ok(now.disk_cid && now.disk_cid !== first.disk_cid);
    assert.equal((await cpi.diskRecord(now.disk_cid))?.size_mb, 2048);
  });

  await t.test('DELETE /disks/<cid>?orphan=true orphans an attached disk; the next deploy creates a new one', async () => {
    const first = byIndex(await infos(), 0);
    const refused = await env.client.raw('DELETE', `/disks/${first.disk_cid}`);
    assert.equal(refused.status, 400, 'a disk in use is not deleted');
    assert.match(refused.body.toString(), /Deleting persistent disk is not supported/);
    const task = await env.task('DELETE', `/disks/${first.disk_cid}`, { query: { orphan: true } });
    assert.equal(task.state, 'done', task.result ?? '');
    assert.equal(task.description, 'orphan disk');
    assert.equal(task.result, `disk ${first.disk_cid} orphaned`);
    assert.equal(byIndex(await infos(), 0).disk_cid, null);
    assert.ok((await orphans()).some((d) => d.disk_cid === first.disk_cid));
    deploy(manifestWithDisk(1, 2048));
    assert.ok(byIndex(await infos(), 0).disk_cid);
  });

  await t.test('deleting the deployment orphans its disks; clean-up --all deletes every orphaned disk', async () => {
    const first = byIndex(await infos(), 0);
    const task = await env.task('DELETE', `/deployments/${DEPLOYMENT}`);
    assert.equal(task.state, 'done', task.result ?? '');
    const orphaned = await orphans();
    assert.ok(orphaned.some((d) => d.disk_cid === first.disk_cid), 'the last disk is orphaned');
    const dryRun = await env.client.getJson<{ orphaned_disks: OrphanedDisk[] }>('/cleanup/dryrun', { remove_all: true });
    assert.deepEqual(dryRun.orphaned_disks.map((d) => d.disk_cid).sort(), orphaned.map((d) => d.disk_cid).sort());
    const kept = await env.client.getJson<{ orphaned_disks: OrphanedDisk[] }>('/cleanup/dryrun', { remove_all: false });
    assert.deepEqual(kept.orphaned_disks, [], 'orphaned disks go only with --all');
    env.capstan('-n', 'clean-up', '--all');
    assert.deepEqual(await orphans(), []);
    for (const disk of orphaned) assert.equal(await cpi.diskRecord(disk.disk_cid), undefined);
  });
});
