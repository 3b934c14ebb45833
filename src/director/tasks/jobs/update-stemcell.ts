// update_stemcell: the uploaded stemcell's image goes to the CPI (create_stemcell), the cid into the
// stemcells table (director-api.md §6.5 "Upload stemcell").
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CapstanError } from '../../../common/errors.js';
import { readStemcellTarball } from '../../../stemcell/tarball.js';
import type { StemcellManifest } from '../../../stemcell/types.js';
import type { Director, TaskJob } from '../../context.js';
import { downloadRemoteTarball, verifyRemoteTarball } from './remote-tarball.js';
import { withWorkDir } from './work-dir.js';
import type { Cpi } from '../../../cpi/cpi.js';
import { cpiRegistry } from '../../cpis.js';

export interface UpdateStemcellPayload {
  stemcell_path: string;
  fix?: boolean;
  /** POST /stemcells {location, sha1}: the task downloads the tarball to stemcell_path first */
  location?: string;
  sha1?: string;
}

export const updateStemcell: TaskJob = async (director, task, payload: UpdateStemcellPayload) => {
  try {
    return await withWorkDir(director, 'stemcell', async (dir) => {
      const registry = cpiRegistry(director);
      const cpis = await registry.all();
      const remoteSteps = payload.location ? (payload.sha1 ? 2 : 1) : 0;
      const stage = task.events.beginStage('Update stemcell', remoteSteps + 3 + 2 * cpis.length);
      if (payload.location) {
        const { location, sha1 } = payload;
        await stage.track('Downloading remote stemcell', () => downloadRemoteTarball('stemcell', location, payload.stemcell_path));
        if (sha1) await stage.track('Verifying remote stemcell', () => verifyRemoteTarball('stemcell', location, payload.stemcell_path, sha1));
      }
      const manifest = await stage.track('Extracting stemcell archive', () => readStemcellTarball(payload.stemcell_path, dir));
      const label = `${manifest.name}/${manifest.version}`;
      const targets = await stage.track('Verifying stemcell manifest', () => cpisTakingFormats(cpis, manifest, registry.defaultName));
      const existing = await stage.track('Checking if this stemcell already exists', () =>
        director.db.selectFrom('stemcells').selectAll().where('name', '=', manifest.name).where('version', '=', manifest.version).execute(),
      );
      // BOSH uploads the stemcell to every CPI; each CPI gets its own stemcells row (cpi '' = default)
      for (const { name, cpi } of targets) {
        const suffix = name ? ` (cpi: ${name})` : '';
        const row = existing.find((r) => r.cpi === name) ?? existing.find((r) => r.cpi !== '' && registry.currentName(r.cpi) === name);
        if (row && !payload.fix) {
          await stage.track(`Uploading stemcell ${label} to the cloud${suffix} (already exists, skipped)`, async () => undefined);
          continue;
        }
        await task.checkpoint();
        const cid = await stage.track(`Uploading stemcell ${label} to the cloud${suffix}`, () => cpi.createStemcell(join(dir, 'image'), manifest.cloud_properties ?? {}));
        await stage.track(`Save stemcell ${label} (${cid})${suffix}`, () => saveStemcell(director, manifest, cid, name, row?.id));
      }
      return `/stemcells/${label}`;
    });
  } finally {
    await rm(payload.stemcell_path, { force: true }); // the API's spooled upload
  }
};

async function saveStemcell(director: Director, manifest: StemcellManifest, cid: string, cpi: string, existingId: number | undefined): Promise<void> {
  if (existingId !== undefined) {
    await director.db.updateTable('stemcells').set({ cid, sha1: manifest.sha1 }).where('id', '=', existingId).execute();
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
      cpi,
      api_version: manifest.api_version ?? null,
    })
    .execute();
}

type NamedCpi = { name: string; cpi: Cpi };

/**
 * A CPI that names its stemcell formats only takes stemcells in one of them; such CPIs are skipped
 * (director-api.md §6.5), and a stemcell no CPI takes is refused.
 */
async function cpisTakingFormats(cpis: NamedCpi[], manifest: StemcellManifest, defaultName: string): Promise<NamedCpi[]> {
  const formats = manifest.stemcell_formats ?? [];
  const checked = await Promise.all(cpis.map(async (c) => ({ ...c, formats: (await c.cpi.info()).stemcell_formats ?? [] })));
  const taking = checked.filter((c) => c.formats.length === 0 || formats.length === 0 || formats.some((f) => c.formats.includes(f)));
  if (taking.length === 0) {
    const supported = checked.map((c) => `CPI '${c.name || defaultName}' supports [${c.formats.join(', ')}]`).join('; ');
    throw new CapstanError(`Stemcell '${manifest.name}/${manifest.version}' has formats [${formats.join(', ')}]; ${supported}`, 50001, 400);
  }
  return taking.map(({ name, cpi }) => ({ name, cpi }));
}
