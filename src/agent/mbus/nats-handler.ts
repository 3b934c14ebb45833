// NATS transport (§1.1): mutual TLS, server CN check, subscription to agent.<agent_id>, replies to
// the body's reply_to, and publishing of heartbeats, alerts and the shutdown notice.
import { connect, type NatsConnection, type Subscription } from 'nats';
import type { PeerCertificate } from 'node:tls';
import type { MbusCert } from '../../common/protocol.js';
import type { Logger } from '../../common/logging.js';
import { dispatch, encodeResponse, type DispatchDeps } from './dispatcher.js';

/** Same expression as bosh-agent (the dot before "nats" is unescaped there too). */
export const NATS_SERVER_CN = /^[a-zA-Z0-9*\-]*.nats.bosh-internal$/;

export interface NatsHandlerOptions {
  urls: string[];
  agentId: string;
  cert: MbusCert;
}

/** Replaces node's hostname check: bosh-agent verifies the chain and the leaf CN only. */
export function checkNatsServerIdentity(_host: string, cert: PeerCertificate): Error | undefined {
  const cn = cert?.subject?.CN;
  const name = Array.isArray(cn) ? cn[0] : cn;
  if (typeof name === 'string' && NATS_SERVER_CN.test(name)) return undefined;
  return new Error(`Server Certificate CommonName does not match *.nats.bosh-internal (got '${name ?? ''}')`);
}

function natsServers(urls: string[]): { servers: string[] } {
  const servers = urls.map((u) => {
    const url = new URL(u);
    if (url.protocol !== 'nats:') throw new Error(`Unsupported mbus URL scheme in '${url.protocol}//${url.host}'`);
    return `${url.hostname}:${url.port || '4222'}`;
  });
  return { servers };
}

export class NatsHandler {
  private nc?: NatsConnection;
  private sub?: Subscription;
  private loop?: Promise<void>;

  constructor(
    private readonly options: NatsHandlerOptions,
    private readonly logger: Logger,
  ) {}

  async connect(): Promise<void> {
    const { cert } = this.options;
    if (!cert?.certificate || !cert?.private_key) throw new Error('Missing mbus client certificate (env.bosh.mbus.cert)');
    let attempt = 0;
    this.nc = await connect({
      ...natsServers(this.options.urls),
      name: `agent-${this.options.agentId}`,
      tls: {
        cert: cert.certificate,
        key: cert.private_key,
        ...(cert.ca ? { ca: cert.ca } : {}),
        minVersion: 'TLSv1.2',
        checkServerIdentity: checkNatsServerIdentity,
      } as never,
      waitOnFirstConnect: true,
      maxReconnectAttempts: -1,
      // 2 s x attempt, at most 10 s (§1.1).
      reconnectDelayHandler: () => Math.min(2000 * ++attempt, 10_000),
    });
    void (async () => {
      for await (const status of this.nc!.status()) {
        if (status.type === 'reconnect') attempt = 0;
        this.logger.info({ type: status.type }, 'NATS status');
      }
    })();
  }

  /** Subscribes agent.<agent_id>; requests are handled one at a time, in arrival order. */
  subscribe(deps: DispatchDeps): void {
    const nc = this.connection();
    this.sub = nc.subscribe(`agent.${this.options.agentId}`);
    const sub = this.sub;
    this.loop = (async () => {
      for await (const msg of sub) {
        try {
          const result = await dispatch(msg.data, deps);
          if (result?.replyTo) nc.publish(result.replyTo, encodeResponse(result.response));
        } catch (err) {
          // One bad request must not stop the subscription loop.
          this.logger.error({ err: (err as Error).message }, 'Failed to handle request');
        }
      }
    })();
  }

  publish(subject: string, payload: unknown): void {
    this.connection().publish(subject, JSON.stringify(payload));
  }

  async flush(): Promise<void> {
    await this.connection().flush();
  }

  async close(): Promise<void> {
    this.sub?.unsubscribe();
    if (this.nc && !this.nc.isClosed()) await this.nc.drain().catch(() => this.nc?.close());
    await this.loop?.catch(() => undefined);
  }

  private connection(): NatsConnection {
    if (!this.nc) throw new Error('NATS is not connected');
    return this.nc;
  }
}
