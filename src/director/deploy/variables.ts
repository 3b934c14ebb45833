// Director-generated variables (director-api.md §5.1 `variables`): password, certificate, ssh, rsa
// and user values, generated once per deployment and reused by every later deploy. Values are stored
// encrypted (AES-256-GCM) with a key kept in a file outside the database (`variables_key_path` in the
// director config, default `<base_dir>/variables.key`, created on first use).
import { createCipheriv, createDecipheriv, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import forge from 'node-forge';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { DirectorConfig } from '../config.js';
import type { Director } from '../context.js';
import { manifestPlaceholders, parseDeploymentManifest, placeholders, variableName, type DeploymentManifest, type ManifestVariable } from '../../manifest/index.js';
import { findOrCreateDeployment } from './planner.js';

type Db = Kysely<Database>;

const KEY_BYTES = 32;
const PASSWORD_LENGTH = 20;
const PASSWORD_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const DEFAULT_CERT_DAYS = 365;

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

function password(): string {
  const bytes = randomBytes(PASSWORD_LENGTH);
  return Array.from(bytes, (b) => PASSWORD_ALPHABET[b % PASSWORD_ALPHABET.length]).join('');
}

function rsaKeyPair() {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
}

function sshKey() {
  const { privateKey, publicKey } = rsaKeyPair();
  const forgeKey = forge.pki.publicKeyFromPem(publicKey);
  return {
    private_key: privateKey,
    public_key: forge.ssh.publicKeyToOpenSSH(forgeKey).trim(),
    public_key_fingerprint: forge.ssh.getPublicKeyFingerprint(forgeKey, { encoding: 'hex', delimiter: ':' }) as string,
  };
}

interface CertificateValue {
  ca: string;
  certificate: string;
  private_key: string;
}

const EXTENDED_KEY_USAGE: Record<string, string> = {
  server_auth: 'serverAuth', client_auth: 'clientAuth', code_signing: 'codeSigning', email_protection: 'emailProtection', timestamping: 'timeStamping',
};

function certificate(variable: ManifestVariable, values: Record<string, unknown>): CertificateValue {
  const options = variable.options ?? {};
  const isCa = options.is_ca === true;
  const caName = typeof options.ca === 'string' ? options.ca : null;
  if (!isCa && caName === null) throw new Error(`Certificate variable '${variable.name}' needs 'options.ca' (or 'is_ca: true')`);
  const issuer = caName !== null ? (values[caName] as CertificateValue | undefined) : undefined;
  if (caName !== null && !issuer?.certificate) throw new Error(`Certificate variable '${variable.name}' names CA '${caName}', which is not a certificate variable`);

  const { privateKey, publicKey } = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  cert.serialNumber = '00' + randomBytes(15).toString('hex'); // positive, 16 bytes
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  const days = typeof options.duration === 'number' ? options.duration : DEFAULT_CERT_DAYS;
  cert.validity.notAfter = new Date(Date.now() + days * 86_400_000);
  const subject = [{ name: 'commonName', value: String(options.common_name ?? variable.name) }];
  if (typeof options.organization === 'string') subject.push({ name: 'organizationName', value: options.organization });
  cert.setSubject(subject);
  const issuerCert = issuer ? forge.pki.certificateFromPem(issuer.certificate) : cert;
  cert.setIssuer(issuer ? issuerCert.subject.attributes : subject);
  const extensions: Array<Record<string, unknown>> = [
    { name: 'basicConstraints', cA: isCa, critical: true },
    isCa ? { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true } : { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ];
  const usages = Array.isArray(options.extended_key_usage) ? options.extended_key_usage.map(String) : [];
  if (usages.length) {
    extensions.push({ name: 'extKeyUsage', ...Object.fromEntries(usages.map((u) => [EXTENDED_KEY_USAGE[u] ?? u, true])) });
  }
  const alternatives = Array.isArray(options.alternative_names) ? options.alternative_names.map(String) : [];
  if (alternatives.length) {
    extensions.push({
      name: 'subjectAltName',
      altNames: alternatives.map((n) => (/^\d{1,3}(\.\d{1,3}){3}$/.test(n) ? { type: 7, ip: n } : { type: 2, value: n })),
    });
  }
  cert.setExtensions(extensions);
  const signingKey = issuer ? forge.pki.privateKeyFromPem(issuer.private_key) : forge.pki.privateKeyFromPem(privateKey);
  cert.sign(signingKey, forge.md.sha256.create());
  const pem = forge.pki.certificateToPem(cert);
  return { ca: issuer ? issuer.certificate : pem, certificate: pem, private_key: privateKey };
}

/** A fresh value for a variable of one of the types the director generates. */
export function generateValue(variable: ManifestVariable, values: Record<string, unknown>): unknown {
  switch (variable.type) {
    case 'password':
      return password();
    case 'certificate':
      return certificate(variable, values);
    case 'ssh':
      return sshKey();
    case 'rsa': {
      const { privateKey, publicKey } = rsaKeyPair();
      return { private_key: privateKey, public_key: publicKey };
    }
    case 'user':
      return { username: String(variable.options?.username ?? password()), password: password() };
    default:
      throw new Error(`Variable '${variable.name}' has type '${variable.type}', which the director cannot generate (password, certificate, ssh, rsa, user)`);
  }
}

/** Declared variables in generation order: a certificate's CA before the certificate. */
function generationOrder(declared: ManifestVariable[]): ManifestVariable[] {
  const byName = new Map(declared.map((v) => [v.name, v]));
  const ordered: ManifestVariable[] = [];
  const visit = (v: ManifestVariable, path: string[]) => {
    if (ordered.includes(v)) return;
    if (path.includes(v.name)) throw new Error(`Variables form a cycle through their CAs: ${[...path, v.name].join(' -> ')}`);
    const ca = v.type === 'certificate' && typeof v.options?.ca === 'string' ? byName.get(v.options.ca) : undefined;
    if (ca) visit(ca, [...path, v.name]);
    ordered.push(v);
  };
  declared.forEach((v) => visit(v, []));
  return ordered;
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
