// Runtime configs at deploy time (director-api.md §5.3): the latest version of every named runtime
// config contributes its releases and addons; the manifest's own `addons` apply after them.
import { z } from 'zod';
import type { Director } from '../context.js';
import { addonSchema, applyAddons, parseRuntimeConfig, type RuntimeConfig } from '../../manifest/runtime-config.js';
import type { DeploymentManifest } from '../../manifest/types.js';

/** The latest content of each named runtime config (deleted ones excluded). */
export async function latestRuntimeConfigs(director: Director): Promise<RuntimeConfig[]> {
  const rows = await director.db.selectFrom('configs').selectAll().where('type', '=', 'runtime').where('deleted', '=', 0).orderBy('id', 'desc').execute();
  const latest = new Map<string, (typeof rows)[number]>();
  for (const row of rows) if (!latest.has(row.name)) latest.set(row.name, row);
  return [...latest.values()]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((row) => parseRuntimeConfig(row.content, `runtime-config '${row.name}' (id ${row.id})`));
}

export async function withAddons(director: Director, manifest: DeploymentManifest): Promise<DeploymentManifest> {
  const parsed = z.array(addonSchema).safeParse(manifest.addons ?? []);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`deployment manifest: addons${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${issue.message}`);
  }
  return applyAddons(manifest, await latestRuntimeConfigs(director), parsed.data);
}
