// Test PKI like `capstan up` makes: a CA, the NATS server cert and client certs (node-forge).
import forge from 'node-forge';

export interface Pem {
  cert: string;
  key: string;
}

function newCert(cn: string, issuer: { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey } | undefined, extensions: object[]) {
  const keys = forge.pki.rsa.generateKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '0' + forge.util.bytesToHex(forge.random.getBytesSync(8));
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  const subject = [{ name: 'countryName', value: 'USA' }, { name: 'organizationName', value: 'Cloud Foundry' }, { name: 'commonName', value: cn }];
  cert.setSubject(subject);
  cert.setIssuer(issuer ? issuer.cert.subject.attributes : subject);
  cert.setExtensions(extensions);
  cert.sign(issuer ? issuer.key : keys.privateKey, forge.md.sha256.create());
  return { cert, key: keys.privateKey };
}

export function makePki(agentId: string): { ca: string; nats: Pem; agent: Pem; director: Pem; wrongServer: Pem } {
  const ca = newCert('Capstan Test CA', undefined, [{ name: 'basicConstraints', cA: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true }]);
  const leaf = (cn: string, server: boolean) => {
    const made = newCert(cn, ca, [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      ...(server ? [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }] : []),
    ]);
    return { cert: forge.pki.certificateToPem(made.cert), key: forge.pki.privateKeyToPem(made.key) };
  };
  return {
    ca: forge.pki.certificateToPem(ca.cert),
    nats: leaf('default.nats.bosh-internal', true),
    agent: leaf(`${agentId}.agent.bosh-internal`, false),
    director: leaf('default.director.bosh-internal', false),
    wrongServer: leaf('localhost', true),
  };
}
