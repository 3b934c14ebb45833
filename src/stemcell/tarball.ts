// Stemcell tarball reader (director-api.md §13): stemcell.MF + image, safely extracted.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { safeExtract } from '../common/tar.js';
import type { StemcellManifest } from './types.js';

const nonEmpty = z.string().min(1, 'must not be empty');

// Versions are strings in BOSH, but YAML writers often leave them unquoted (`version: 1.5`).
const versionSchema = z.union([nonEmpty, z.number()]).transform(String);

const ManifestSchema = z.object({
  name: nonEmpty,
  version: versionSchema,
  operating_system: nonEmpty.optional(),
  sha1: nonEmpty,
  api_version: z.number().int().optional(),
  stemcell_formats: z.array(z.string()).optional(),
  cloud_properties: z.record(z.string(), z.unknown()).optional(),
});

/** Parses and validates stemcell.MF text; `file` names the tarball in error messages. */
export function parseStemcellManifest(text: string, file: string): StemcellManifest {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw new Error(`Invalid stemcell '${file}': stemcell.MF is not valid YAML: ${(err as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new Error(`Invalid stemcell '${file}': stemcell.MF must be a YAML hash`);
  }
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.join('.');
    const missing = issue.code === 'invalid_type' && (raw as Record<string, unknown>)[String(issue.path[0])] === undefined;
    throw new Error(`Invalid stemcell '${file}': stemcell.MF ${missing ? `is missing '${field}'` : `'${field}' ${issue.message}`}`);
  }
  const m = parsed.data;
  return { ...m, operating_system: m.operating_system ?? m.name };
}

/** Extracts a stemcell tarball into destDir (image at destDir/image) and returns its manifest. */
export async function readStemcellTarball(tgzPath: string, destDir: string): Promise<StemcellManifest> {
  const file = basename(tgzPath);
  await safeExtract(tgzPath, destDir);
  const mfPath = join(destDir, 'stemcell.MF');
  if (!existsSync(mfPath)) throw new Error(`Invalid stemcell '${file}': stemcell.MF not found`);
  const manifest = parseStemcellManifest(await readFile(mfPath, 'utf8'), file);
  if (!existsSync(join(destDir, 'image'))) throw new Error(`Invalid stemcell '${file}': image not found`);
  return manifest;
}
