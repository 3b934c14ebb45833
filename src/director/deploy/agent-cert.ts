// NATS client certificates for agents, issued at create_vm time (CN `<agent_id>.agent.bosh-internal`),
// signed by the director's agent CA and handed to the VM in `env.bosh.mbus.cert`.
import { generateKeyPair, generateKeyPairSync, randomBytes } from 'node:crypto';
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

const RSA_OPTIONS = {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
} as const;

/** Issues a client certificate for the agent; `natsCaPem` is what the agent verifies NATS against. */
export function issueAgentCertificate(ca: CertificateAuthority, agentId: string, natsCaPem: string): MbusCert {
  // Node generates the key natively (forge's pure-JS RSA keygen takes seconds).
  return signAgentCertificate(ca, agentId, natsCaPem, generateKeyPairSync('rsa', RSA_OPTIONS));
}

/** issueAgentCertificate with the key generated off the event loop (many VMs are created at once). */
export async function issueAgentCertificateAsync(ca: CertificateAuthority, agentId: string, natsCaPem: string): Promise<MbusCert> {
  return signAgentCertificate(ca, agentId, natsCaPem, await promisify(generateKeyPair)('rsa', RSA_OPTIONS));
}

function signAgentCertificate(ca: CertificateAuthority, agentId: string, natsCaPem: string, { privateKey, publicKey }: { privateKey: string; publicKey: string }): MbusCert {
  const caCert = forge.pki.certificateFromPem(ca.certificatePem);
  const caKey = forge.pki.privateKeyFromPem(ca.privateKeyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
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
  cert.sign(caKey, forge.md.sha256.create());
  return { ca: natsCaPem, certificate: forge.pki.certificateToPem(cert), private_key: privateKey };
}
