// Generated values of the variable types the director (and the CLI's --vars-store) create: password,
// certificate (a CA, or signed by a CA variable), ssh, rsa and user (director-api.md §5.1 `variables`).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import type { ManifestVariable } from '../manifest/types.js';

const PASSWORD_LENGTH = 20;
const PASSWORD_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const DEFAULT_CERT_DAYS = 365;

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
export function generationOrder(declared: ManifestVariable[]): ManifestVariable[] {
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
