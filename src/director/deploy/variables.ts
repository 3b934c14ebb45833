// Director-generated variables (director-api.md §5.1 `variables`): password, certificate, ssh, rsa
// and user values, generated once per deployment and reused by every later deploy. Values are stored
// encrypted (AES-256-GCM) with a key kept in a file outside the database (`variables_key_path` in the
// director config, default `<base_dir>/variables.key`, created on first use).
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { DirectorConfig } from '../config.js';
import type { Director } from '../context.js';
import { manifestPlaceholders, parseDeploymentManifest, placeholders, variableName, type DeploymentManifest, type ManifestVariable } from '../../manifest/index.js';
import { findOrCreateDeployment } from './planner.js';
import { generateValue, generationOrder } from '../../common/variable-generators.js';

export { generateValue };

type Db = Kysely<Database>;

const KEY_BYTES = 32;

export function variablesKeyPath(config: DirectorConfig): string {
  return config.variables_key_path ?? join(config.base_dir, 'variables.key');
}

/** The encryption key: read from the key file, which is created (0600) when missing. */
export function loadVariablesKey(path: string): Buffer {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    try {
      writeFileSync(path, randomBytes(KEY_BYTES).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // another process created it first
    }
  }
  const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'hex');
  if (key.length !== KEY_BYTES) throw new Error(`Variables key file '${path}' must hold ${KEY_BYTES} bytes as hex`);
  return key;
}

export function encryptValue(key: Buffer, value: unknown): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64'), cipher.getAuthTag().toString('base64'), body.toString('base64')].join(':');
}

export function decryptValue(key: Buffer, stored: string): unknown {
  const [version, iv, tag, body] = stored.split(':');
  if (version !== 'v1') throw new Error('Unknown variable encryption format');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
  decipher.setAuthTag(Buffer.from(tag, 'base64'));
  return JSON.parse(Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8'));
}

/**
 * The values of the deployment's declared variables: stored ones are reused (stable across deploys),
 * missing ones are generated and stored encrypted.
 */
export async function ensureVariables(db: Db, key: Buffer, deploymentId: number, declared: ManifestVariable[]): Promise<Record<string, unknown>> {
  const rows = await db.selectFrom('deployment_variables').selectAll().where('deployment_id', '=', deploymentId).execute();
  const values: Record<string, unknown> = {};
  for (const variable of generationOrder(declared)) {
    const row = rows.find((r) => r.name === variable.name);
    if (row && row.type === variable.type) {
      values[variable.name] = decryptValue(key, row.value_encrypted);
      continue;
    }
    const value = generateValue(variable, values);
    values[variable.name] = value;
    const stored = { type: variable.type, value_encrypted: encryptValue(key, value), created_at: new Date().toISOString() };
    if (row) await db.updateTable('deployment_variables').set(stored).where('id', '=', row.id).execute();
    else await db.insertInto('deployment_variables').values({ deployment_id: deploymentId, name: variable.name, ...stored }).execute();
  }
  return values;
}

/** Parses a deployment manifest with its `((placeholders))` filled from the deployment's variables. */
export async function interpolatedManifest(director: Director, deploymentName: string, manifestText: string): Promise<DeploymentManifest> {
  const file = 'deployment manifest';
  const { declared, references } = manifestPlaceholders(manifestText, file);
  const missing = [...new Set(references.map(variableName))].filter((name) => !declared.some((v) => v.name === name));
  if (missing.length) {
    const lines = manifestText.split('\n');
    const where = (name: string) => {
      const line = lines.findIndex((l) => placeholders(l).some((ref) => variableName(ref) === name));
      return line >= 0 ? ` (line ${line + 1})` : '';
    };
    throw new Error(`${file}: Failed to find variables ${missing.map((n) => `'${n}'${where(n)}`).join(', ')}: declare them in the manifest's 'variables' section (the director has no config server)`);
  }
  let values: Record<string, unknown> = {};
  if (declared.length) {
    const deploymentId = await findOrCreateDeployment(director.db, deploymentName);
    values = await ensureVariables(director.db, loadVariablesKey(variablesKeyPath(director.config)), deploymentId, declared);
  }
  const manifest = parseDeploymentManifest(manifestText, file, { variables: values });
  if (manifest.name !== deploymentName) {
    throw new Error(`Deployment manifest name '${manifest.name}' does not match deployment '${deploymentName}'`);
  }
  return manifest;
}

/** `GET /deployments/<d>/variables`: the names (and ids) of the variables the deployment has. */
export async function listVariables(db: Db, deploymentId: number): Promise<Array<{ id: string; name: string }>> {
  const rows = await db.selectFrom('deployment_variables').select(['id', 'name']).where('deployment_id', '=', deploymentId).orderBy('name').execute();
  return rows.map((r) => ({ id: String(r.id), name: r.name }));
}
