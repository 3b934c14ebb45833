// NATS client certificates for agents, issued at create_vm time (CN `<agent_id>.agent.bosh-internal`),
// signed by the director's agent CA and handed to the VM in `env.bosh.mbus.cert`.
import { createPrivateKey, generateKeyPair, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { readFile } from 'node:fs/promises';
import forge from 'node-forge';
import type { MbusCert } from '../../common/protocol.js';
import type { DirectorConfig } from '../config.js';

export interface CertificateAuthority {
  certificatePem: string;
  privateKeyPem: string;
}

export async function loadAgentCa(config: DirectorConfig): Promise<CertificateAuthority> {
  return {
    certificatePem: await readFile(config.agent_ca.certificate_path, 'utf8'),
    privateKeyPem: await readFile(config.agent_ca.private_key_path, 'utf8'),
  };
}

/**
 * Agent keys are ECDSA P-256: an RSA-2048 key takes 0.1-0.3 s of CPU to generate, which on a small
 * machine was a large share of creating 100 VMs; P-256 takes microseconds and every TLS stack
 * involved (nats-server, Node, bosh-agent) accepts it. The CA itself stays RSA.
 */
const KEY_OPTIONS = {
  namedCurve: 'P-256',
  publicKeyEncoding: { type: 'spki', format: 'der' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
} as const;

/** Issues a client certificate for the agent; `natsCaPem` is what the agent verifies NATS against. */
export function issueAgentCertificate(ca: CertificateAuthority, agentId: string, natsCaPem: string): MbusCert {
  return signAgentCertificate(ca, agentId, natsCaPem, generateKeyPairSync('ec', KEY_OPTIONS));
}

/** issueAgentCertificate with the key generated off the event loop (many VMs are created at once). */
export async function issueAgentCertificateAsync(ca: CertificateAuthority, agentId: string, natsCaPem: string): Promise<MbusCert> {
  return signAgentCertificate(ca, agentId, natsCaPem, await promisify(generateKeyPair)('ec', KEY_OPTIONS));
}

/**
 * What forge's cert.sign(key, sha256) does, with the RSA signature made by Node's crypto (forge's
 * pure-JS private-key operation blocks the event loop ~0.2 s per certificate: 100 VMs, 20 s), and
 * the subject's public key given as SPKI DER (forge only encodes RSA keys).
 */
function signNatively(cert: forge.pki.Certificate, subjectSpkiDer: Buffer, caPrivateKeyPem: string): void {
  cert.signatureOid = cert.siginfo.algorithmOid = forge.pki.oids.sha256WithRSAEncryption;
  // getTBSCertificate is public forge API, missing from @types/node-forge
  const tbs = (forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate(cert);
  // TBSCertificate: version, serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, ...
  (tbs.value as forge.asn1.Asn1[])[6] = forge.asn1.fromDer(forge.util.createBuffer(subjectSpkiDer.toString('binary')));
  (cert as forge.pki.Certificate & { tbsCertificate: forge.asn1.Asn1 }).tbsCertificate = tbs;
  const der = Buffer.from(forge.asn1.toDer(tbs).getBytes(), 'binary');
  cert.signature = sign('sha256', der, caKeyObject(caPrivateKeyPem)).toString('binary');
}

/** The CA key parsed once, not per VM. */
const caKeys = new Map<string, KeyObject>();
function caKeyObject(pem: string): KeyObject {
  let key = caKeys.get(pem);
  if (!key) caKeys.set(pem, (key = createPrivateKey(pem)));
  return key;
}

function signAgentCertificate(ca: CertificateAuthority, agentId: string, natsCaPem: string, { privateKey, publicKey }: { privateKey: string; publicKey: Buffer }): MbusCert {
  const caCert = forge.pki.certificateFromPem(ca.certificatePem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = caCert.publicKey; // a placeholder forge can encode: signNatively puts the agent's key in
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 365 * 24 * 3600 * 1000);
  cert.setSubject([
    { name: 'countryName', value: 'USA' },
    { name: 'organizationName', value: 'Cloud Foundry' },
    { name: 'commonName', value: `${agentId}.agent.bosh-internal` },
  ]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', clientAuth: true },
  ]);
  signNatively(cert, publicKey, ca.privateKeyPem);
  return { ca: natsCaPem, certificate: forge.pki.certificateToPem(cert), private_key: privateKey };
}
