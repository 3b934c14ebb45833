// A second "Docker host" for tests of several Docker hosts: a TLS server on 127.0.0.1 that requires a
// client certificate signed by a test CA and pipes each connection to the local engine's socket, as
// `dockerd --tlsverify -H tcp://...` would answer. The test CA issues the client certificate a
// cpi-config's docker CPI uses (`properties.tls`).
import { createConnection, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { generateCa, issueCertificate, type KeyPair } from '../../../src/environment/certs.js';

export interface TlsDockerHost {
  /** tcp://127.0.0.1:<port> */
  url: string;
  port: number;
  ca: KeyPair;
  /** `properties.tls` of a cpi-config docker CPI: a client certificate the host accepts. */
  clientTls: { ca: string; certificate: string; private_key: string };
  /** CNs of the client certificates of the connections accepted so far. */
  clients: string[];
  /** Request bytes passed on to the engine so far. */
  proxiedBytes(): number;
  close(): Promise<void>;
}

export async function startTlsDockerHost(socketPath = '/var/run/docker.sock'): Promise<TlsDockerHost> {
  const ca = generateCa('Docker host test CA');
  const server = issueCertificate(ca, { commonName: 'docker-host', ipAddresses: ['127.0.0.1'], usage: 'server' });
  const client = issueCertificate(ca, { commonName: 'capstan-director', usage: 'client' });
  const sockets = new Set<Socket>();
  const clients: string[] = [];
  let proxied = 0;
  const tls = createTlsServer({ key: server.privateKey, cert: server.certificate, ca: ca.certificate, requestCert: true, rejectUnauthorized: true }, (socket: TLSSocket) => {
    clients.push(String(socket.getPeerCertificate().subject?.CN));
    const engine = createConnection(socketPath);
    sockets.add(engine);
    const close = () => {
      socket.destroy();
      engine.destroy();
    };
    socket.on('data', (chunk: Buffer) => (proxied += chunk.length));
    socket.pipe(engine).pipe(socket);
    socket.on('error', close).on('close', close);
    engine.on('error', close).on('close', close);
  });
  tls.on('connection', (s: Socket) => sockets.add(s));
  await new Promise<void>((done) => tls.listen(0, '127.0.0.1', () => done()));
  const port = (tls.address() as { port: number }).port;
  return {
    url: `tcp://127.0.0.1:${port}`,
    port,
    ca,
    clientTls: { ca: ca.certificate, certificate: client.certificate, private_key: client.privateKey },
    clients,
    proxiedBytes: () => proxied,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((done) => (tls as Server).close(() => done()));
    },
  };
}
