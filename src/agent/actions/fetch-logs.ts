import { mkdtemp, rm, cp, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentServices } from '../services.js';
import { runTar, exists } from '../applier/installer.js';
import { stringArg, type Action } from './action.js';

/**
 * Tars the requested log directories and uploads the tarball (§2.11). Walking-skeleton depth: every
 * file of each directory is included; `filters` globs are not applied yet.
 */
export class FetchLogsAction implements Action {
  readonly name = 'fetch_logs';
  readonly isAsynchronous = true;
  readonly requiredArgs = 2;

  constructor(private readonly services: AgentServices) {}

  async run(args: unknown[]): Promise<{ blobstore_id: string; sha1: string }> {
    const { paths, blobs } = this.services;
    const sources: Record<string, { dir: string; under: string }> = {
      job: { dir: paths.sysLog, under: '.' },
      agent: { dir: paths.boshLog, under: '.' },
      system: { dir: '/var/log', under: 'var/log' },
    };
    const types = stringArg(args, 0).split(',').map((t) => t.trim());
    for (const type of types) if (!sources[type]) throw new Error('Invalid log type');
    await mkdir(paths.tmp, { recursive: true });
    const staging = await mkdtemp(join(paths.tmp, 'logs-'));
    const tarball = `${staging}.tgz`;
    try {
      for (const type of types) {
        const { dir, under } = sources[type];
        if (await exists(dir)) await cp(dir, join(staging, under), { recursive: true, dereference: false });
      }
      await runTar(['-czf', tarball, '-C', staging, '.']);
      return await blobs.upload(tarball);
    } finally {
      await rm(staging, { recursive: true, force: true });
      await rm(tarball, { force: true });
    }
  }
}
