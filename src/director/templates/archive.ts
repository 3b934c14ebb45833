// The rendered templates archive (director-api.md §7.3): a tar.gz with `<job>/monit`,
// `<job>/<dest>` for every template and `<job>/.bosh/links.json`.
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { tmpdir } from 'node:os';
import { create as createTar } from 'tar';
import type { RenderedJob } from './render.js';

/** Writes the archive to `archivePath`. Template destinations may not leave their job directory. */
export async function writeRenderedArchive(jobs: RenderedJob[], archivePath: string): Promise<void> {
  const staging = await mkdtemp(join(tmpdir(), 'capstan-rendered-'));
  try {
    for (const job of jobs) {
      const jobDir = join(staging, job.name);
      await writeInside(jobDir, 'monit', job.monit);
      await writeInside(jobDir, '.bosh/links.json', '[]');
      for (const file of job.files) await writeInside(jobDir, file.dest, file.content);
    }
    await createTar({ gzip: true, file: archivePath, cwd: staging, portable: true }, jobs.map((j) => j.name));
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function writeInside(root: string, relative: string, content: string): Promise<void> {
  const target = resolve(root, relative);
  if (!target.startsWith(resolve(root) + sep)) throw new Error(`Template destination '${relative}' leaves the job directory`);
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, content);
}
