// Seeds a release described inline (job.MF objects and template texts) into a test director's DB and
// blobstore, as an upload would leave it, plus a stemcell and a cloud config.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { create as createTar } from 'tar';
import type { TestDirector } from './support.js';

export interface FixtureJob {
  spec: { name: string; templates?: Record<string, string>; packages?: string[]; properties?: Record<string, unknown>; provides?: unknown[]; consumes?: unknown[] };
  /** Template sources by their `templates` key. */
  files: Record<string, string>;
  monit?: string;
}

export async function seedRelease(director: TestDirector, work: string, name: string, version: string, jobs: FixtureJob[]): Promise<void> {
  const db = director.db;
  const existing = await db.selectFrom('releases').select('id').where('name', '=', name).executeTakeFirst();
  const release = existing ?? (await db.insertInto('releases').values({ name }).returning('id').executeTakeFirstOrThrow());
  const rv = await db.insertInto('release_versions').values({ release_id: release.id, version, commit_hash: 'abc', uncommitted_changes: 0, update_completed: 1 }).returning('id').executeTakeFirstOrThrow();
  for (const job of jobs) {
    const dir = join(work, `${name}-${version}-${job.spec.name}`);
    await mkdir(join(dir, 'templates'), { recursive: true });
    for (const [src, content] of Object.entries(job.files)) await writeFile(join(dir, 'templates', src), content);
    await writeFile(join(dir, 'monit'), job.monit ?? `check process ${job.spec.name}\n  with pidfile /var/vcap/sys/run/${job.spec.name}/pid\n`);
    await writeFile(join(dir, 'job.MF'), JSON.stringify(job.spec));
    const tgz = `${dir}.tgz`;
    await createTar({ gzip: true, file: tgz, cwd: dir }, ['job.MF', 'monit', 'templates']);
    const blob = await director.blobstore.put(tgz);
    const jobVersion = `${job.spec.name}-${version}`;
    const row = await db
      .insertInto('templates')
      .values({ release_id: release.id, name: job.spec.name, version: jobVersion, fingerprint: jobVersion, blobstore_id: blob, sha1: `sha-${jobVersion}`, package_names_json: JSON.stringify(job.spec.packages ?? []), spec_json: JSON.stringify(job.spec) })
      .returning('id')
      .executeTakeFirstOrThrow();
    await db.insertInto('release_versions_templates').values({ template_id: row.id, release_version_id: rv.id }).execute();
  }
}

export async function seedStemcellAndCloudConfig(director: TestDirector, cloudConfig: string): Promise<void> {
  await director.db.insertInto('stemcells').values({ name: 'capstan-test', version: '1', operating_system: 'debian-bookworm', cid: 'stemcell-cid', sha1: 'x', cpi: '', api_version: 2 }).execute();
  await uploadCloudConfig(director, cloudConfig);
}

export async function uploadCloudConfig(director: TestDirector, content: string): Promise<void> {
  await director.db.insertInto('configs').values({ type: 'cloud', name: 'default', content, created_at: new Date().toISOString(), deleted: 0 }).execute();
}
