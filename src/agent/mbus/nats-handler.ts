// NATS transport (§1.1): mutual TLS, server CN check, subscription to agent.<agent_id>, replies to
// the body's reply_to, and publishing of heartbeats, alerts and the shutdown notice.
import { connect, type NatsConnection, type Subscription } from 'nats';
import type { PeerCertificate } from 'node:tls';
import type { MbusCert } from '../../common/protocol.js';
import type { Logger } from '../../common/logging.js';
import { dispatch, encodeResponse, type DispatchDeps } from './dispatcher.js';

/** Same expression as bosh-agent (the dot before "nats" is unescaped there too). */
export const NATS_SERVER_CN = /^[a-zA-Z0-9*\-]*.nats.bosh-internal$/;

const RECONNECT_TIMEOUT_MS = 5_000;

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
  private deps?: DispatchDeps;

  constructor(
    private options: NatsHandlerOptions,
    private readonly logger: Logger,
  ) {}

  async connect(): Promise<void> {
    this.nc = await this.open(this.options.urls, this.options.cert, true);
  }

  /**
   * Moves to new URLs or a new client certificate (update_settings mbus) without a process
   * restart. The new connection must be up first: when it fails the agent stays on the old one.
   * Requests arriving while the subscription moves over are not answered; the director retries.
   */
  async reconnect(urls: string[], cert: MbusCert): Promise<void> {
    const next = await this.open(urls, cert, false).catch((err: Error) => {
      throw new Error(`Connecting to NATS with the new mbus settings: ${err.message}`);
    });
    const old = this.nc;
    this.sub?.unsubscribe();
    await this.loop?.catch(() => undefined); // the request in hand is answered on the old connection
    this.nc = next;
    this.options = { ...this.options, urls, cert };
    if (this.deps) this.subscribe(this.deps);
    if (old && !old.isClosed()) await old.drain().catch(() => old.close());
    this.logger.info('NATS connection moved to the new mbus settings');
  }

  /** waitOnFirstConnect: at start the agent waits for NATS; a reconnect fails fast instead. */
  private async open(urls: string[], cert: MbusCert, waitOnFirstConnect: boolean): Promise<NatsConnection> {
    if (!cert?.certificate || !cert?.private_key) throw new Error('Missing mbus client certificate (env.bosh.mbus.cert)');
    let attempt = 0;
    const nc = await connect({
      ...natsServers(urls),
      name: `agent-${this.options.agentId}`,
      tls: {
        cert: cert.certificate,
        key: cert.private_key,
        ...(cert.ca ? { ca: cert.ca } : {}),
        minVersion: 'TLSv1.2',
        checkServerIdentity: checkNatsServerIdentity,
      } as never,
      waitOnFirstConnect,
      // a refused client certificate (TLS 1.3) shows only as a connect timeout: fail a reconnect soon
      ...(waitOnFirstConnect ? {} : { timeout: RECONNECT_TIMEOUT_MS }),
      maxReconnectAttempts: -1,
      // 2 s x attempt, at most 10 s (§1.1).
      reconnectDelayHandler: () => Math.min(2000 * ++attempt, 10_000),
    });
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === 'reconnect') attempt = 0;
        this.logger.info({ type: status.type }, 'NATS status');
      }
    })();
    return nc;
  }

  /** Subscribes agent.<agent_id>; requests are handled one at a time, in arrival order. */
  subscribe(deps: DispatchDeps): void {
    this.deps = deps;
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
