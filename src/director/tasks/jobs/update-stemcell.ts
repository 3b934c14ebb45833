// update_stemcell: the uploaded stemcell's image goes to the CPI (create_stemcell), the cid into the
// stemcells table (director-api.md §6.5 "Upload stemcell").
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CapstanError } from '../../../common/errors.js';
import { readStemcellTarball } from '../../../stemcell/tarball.js';
import type { StemcellManifest } from '../../../stemcell/types.js';
import type { Director, TaskJob } from '../../context.js';
import { withWorkDir } from './work-dir.js';

export interface UpdateStemcellPayload {
  stemcell_path: string;
  fix?: boolean;
}

export const updateStemcell: TaskJob = async (director, task, payload: UpdateStemcellPayload) => {
  try {
    return await withWorkDir(director, 'stemcell', async (dir) => {
      const stage = task.events.beginStage('Update stemcell', 5);
      const manifest = await stage.track('Extracting stemcell archive', () => readStemcellTarball(payload.stemcell_path, dir));
      const label = `${manifest.name}/${manifest.version}`;
      await stage.track('Verifying stemcell manifest', () => checkFormats(director, manifest));
      const existing = await stage.track('Checking if this stemcell already exists', () =>
        director.db.selectFrom('stemcells').selectAll().where('name', '=', manifest.name).where('version', '=', manifest.version).executeTakeFirst(),
      );
      if (existing && !payload.fix) {
        await stage.track(`Uploading stemcell ${label} to the cloud (already exists, skipped)`, async () => undefined);
        return `/stemcells/${label}`;
      }
      await task.checkpoint();
      const cid = await stage.track(`Uploading stemcell ${label} to the cloud`, () =>
        director.cpi.createStemcell(join(dir, 'image'), manifest.cloud_properties ?? {}),
      );
      await stage.track(`Save stemcell ${label} (${cid})`, async () => {
        if (existing) {
          await director.db.updateTable('stemcells').set({ cid, sha1: manifest.sha1 }).where('id', '=', existing.id).execute();
          return;
        }
        await director.db
          .insertInto('stemcells')
          .values({
            name: manifest.name,
            version: manifest.version,
            operating_system: manifest.operating_system,
            cid,
            sha1: manifest.sha1,
            cpi: '',
            api_version: manifest.api_version ?? null,
          })
          .execute();
      });
      return `/stemcells/${label}`;
    });
  } finally {
    await rm(payload.stemcell_path, { force: true }); // the API's spooled upload
  }
};

/** A CPI that names its stemcell formats only takes stemcells in one of them. */
async function checkFormats(director: Director, manifest: StemcellManifest): Promise<void> {
  const cpiFormats = (await director.cpi.info()).stemcell_formats ?? [];
  const formats = manifest.stemcell_formats ?? [];
  if (cpiFormats.length > 0 && formats.length > 0 && !formats.some((f) => cpiFormats.includes(f))) {
    throw new CapstanError(
      `Stemcell '${manifest.name}/${manifest.version}' has formats [${formats.join(', ')}]; CPI '${director.cpiName}' supports [${cpiFormats.join(', ')}]`,
      50001,
      400,
    );
  }
}
