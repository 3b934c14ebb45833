// Director -> agent RPC over NATS (director-api.md §8, agent-protocol.md §1.5/§1.6).
// Requests go to `agent.<agent_id>` with `reply_to = director.<process uuid>.<agent_id>.<request uuid>`;
// the director listens on `director.<process uuid>.>` and matches replies by the last segment.
import { randomUUID } from 'node:crypto';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { connect, type NatsConnection, type Subscription, type TlsOptions } from 'nats';
import type { Logger } from '../common/logging.js';
import type { AgentRequest, AgentResponse } from '../common/protocol.js';
import type { DirectorConfig } from './config.js';

export interface CallOptions {
  /** RPC timeout per request (default 45 s). */
  timeoutMs?: number;
  /** Upper bound for an async task's polling; unbounded when absent. */
  taskTimeoutMs?: number;
}

export interface AgentClient {
  agentId: string;
  /** Sync or async method; async results are awaited by polling get_task every second. */
  call<T = unknown>(method: string, args?: unknown[], options?: CallOptions): Promise<T>;
  /** Publish without waiting for a reply (shutdown, delete_arp_entries). */
  send(method: string, args?: unknown[]): void;
}

export interface AgentClientFactory {
  forAgent(agentId: string): AgentClient;
  /** Pings until the agent answers or the timeout passes. */
  waitUntilReady(agentId: string, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/** The agent answered with `{"exception": {"message"}}`. */
export class AgentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentError';
  }
}

/** No answer within the RPC timeout. */
export class RpcTimeout extends Error {
  constructor(method: string, agentId: string) {
    super(`Timed out sending '${method}' to instance: '${agentId}'`);
    this.name = 'RpcTimeout';
  }
}

export const DEFAULT_RPC_TIMEOUT_MS = 45_000;
const TASK_POLL_INTERVAL_MS = 1_000;
const FIRST_TASK_POLL_MS = 25;
/** Polls of a young task are at most this far apart (the first ~2 s), then every TASK_POLL_INTERVAL_MS. */
const YOUNG_TASK_POLL_MS = 100;
const YOUNG_TASK_POLLS = 20;
const PING_TIMEOUT_MS = 1_000;
/** waitUntilReady sends a new ping this often, without waiting for the previous one to time out. */
const PING_INTERVAL_MS = 200;
/** Retries on RpcTimeout only (agent_client.rb). */
const TIMEOUT_RETRIES: Record<string, number> = { get_task: 4, get_state: 2, upload_blob: 3 };

const DRAIN_GRACE_MS = 2000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface PendingRequest {
  resolve(response: AgentResponse): void;
}

function isRunningTask(value: unknown): value is { agent_task_id: string; state: 'running' } {
  return typeof value === 'object' && value !== null && (value as { state?: unknown }).state === 'running'
    && typeof (value as { agent_task_id?: unknown }).agent_task_id === 'string';
}

export class NatsAgentClientFactory implements AgentClientFactory {
  private readonly pending = new Map<string, PendingRequest>();
  private readonly subscription: Subscription;

  constructor(
    private readonly nc: NatsConnection,
    private readonly log: Logger,
    private readonly processUuid: string = randomUUID(),
  ) {
    this.subscription = nc.subscribe(`director.${processUuid}.>`, {
      callback: (err, msg) => {
        if (err) return;
        this.onReply(msg.subject, msg.data);
      },
    });
  }

  forAgent(agentId: string): AgentClient {
    return {
      agentId,
      call: <T>(method: string, args: unknown[] = [], options: CallOptions = {}) => this.call<T>(agentId, method, args, options),
      send: (method: string, args: unknown[] = []) => {
        this.publish(agentId, method, args, `director.${this.processUuid}.${agentId}.${randomUUID()}`);
      },
    };
  }

  /**
   * Pings overlap: a ping sent before the agent subscribed is lost, and waiting for its 1 s timeout
   * before the next one kept every new VM waiting up to a second after its agent was up.
   */
  async waitUntilReady(agentId: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let answered = false;
    let failure: Error | undefined;
    while (!answered) {
      if (failure) throw failure;
      if (Date.now() >= deadline) throw new Error(`Timed out pinging to ${agentId} after ${Math.round(timeoutMs / 1000)} seconds`);
      const ping = this.request(agentId, 'ping', [], PING_TIMEOUT_MS).then(
        () => void (answered = true),
        (err: unknown) => {
          // "restarting agent" exceptions and timeouts both mean: not ready yet.
          if (err instanceof AgentError && !err.message.startsWith('restarting agent')) failure ??= err;
        },
      );
      await Promise.race([ping, sleep(PING_INTERVAL_MS)]);
    }
  }

  async close(): Promise<void> {
    this.subscription.unsubscribe();
    // drain() waits for the server: with nats-server gone it would hold the director's shutdown until reconnect
    const drained = this.nc.drain().catch(() => undefined);
    await Promise.race([drained, sleep(DRAIN_GRACE_MS)]);
    if (!this.nc.isClosed()) await this.nc.close();
  }

  private async call<T>(agentId: string, method: string, args: unknown[], options: CallOptions): Promise<T> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
    let value = await this.requestWithRetries(agentId, method, args, timeoutMs);
    if (!isRunningTask(value)) return value as T;
    const taskId = value.agent_task_id;
    const deadline = options.taskTimeoutMs === undefined ? Infinity : Date.now() + options.taskTimeoutMs;
    // Most agent tasks (apply, run_script, start) finish within a few hundred ms: poll soon (25 ms,
    // doubling up to 100 ms) for ~2 s, then every second. Polls doubling from 100 ms to 1 s made a
    // 110 ms task take 300 ms and an 800 ms one 1.5 s: an update runs three such tasks per instance.
    for (let poll = 0; isRunningTask(value); poll++) {
      if (Date.now() >= deadline) throw new Error(`Timed out waiting for '${method}' on agent '${agentId}' (task ${taskId})`);
      await sleep(poll < YOUNG_TASK_POLLS ? Math.min(YOUNG_TASK_POLL_MS, FIRST_TASK_POLL_MS * 2 ** poll) : TASK_POLL_INTERVAL_MS);
      value = await this.requestWithRetries(agentId, 'get_task', [taskId], DEFAULT_RPC_TIMEOUT_MS);
    }
    return value as T;
  }

  private async requestWithRetries(agentId: string, method: string, args: unknown[], timeoutMs: number): Promise<unknown> {
    const retries = TIMEOUT_RETRIES[method] ?? 0;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.request(agentId, method, args, timeoutMs);
      } catch (err) {
        if (!(err instanceof RpcTimeout) || attempt >= retries) throw err;
        this.log.debug({ agentId, method, attempt }, 'agent request timed out, retrying');
      }
    }
  }

  private request(agentId: string, method: string, args: unknown[], timeoutMs: number): Promise<unknown> {
    const requestId = randomUUID();
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new RpcTimeout(method, agentId));
      }, timeoutMs);
      this.pending.set(requestId, {
        resolve: (response) => {
          clearTimeout(timer);
          if (typeof response !== 'object' || response === null) resolve(response);
          else if ('exception' in response) reject(new AgentError(response.exception?.message ?? 'unknown agent error'));
          else resolve(response.value);
        },
      });
      this.log.debug({ agentId, method, requestId }, 'sending agent request');
      this.publish(agentId, method, args, `director.${this.processUuid}.${agentId}.${requestId}`);
    });
  }

  private publish(agentId: string, method: string, args: unknown[], replyTo: string): void {
    const request: AgentRequest = { protocol: 3, method, arguments: args, reply_to: replyTo };
    this.nc.publish(`agent.${agentId}`, Buffer.from(JSON.stringify(request)));
  }

  private onReply(subject: string, data: Uint8Array): void {
    const requestId = subject.slice(subject.lastIndexOf('.') + 1);
    const waiter = this.pending.get(requestId);
    if (!waiter) return;
    let response: AgentResponse;
    try {
      response = JSON.parse(Buffer.from(data).toString('utf8'));
    } catch {
      this.log.warn({ subject }, 'ignoring agent reply that is not JSON');
      return;
    }
    this.pending.delete(requestId);
    waiter.resolve(response);
  }
}

/**
 * nats.js upgrades an already-open socket to TLS without a host name, so Node would check the server
 * certificate against "localhost". Check it against the host of the NATS URL instead, and accept,
 * as bosh-agent does, a chain-verified certificate whose CN is `<name>.nats.bosh-internal`.
 */
export function natsServerIdentity(natsUrl: string): (host: string, cert: PeerCertificate) => Error | undefined {
  const host = new URL(natsUrl.split(',')[0].trim()).hostname.replace(/^\[|\]$/g, '');
  return (_host, cert) => {
    const byHost = checkServerIdentity(host, cert);
    if (!byHost) return undefined;
    const cn = cert?.subject?.CN;
    const name = Array.isArray(cn) ? cn[0] : cn;
    return typeof name === 'string' && /^[a-zA-Z0-9*-]*\.nats\.bosh-internal$/.test(name) ? undefined : byHost;
  };
}

/** Connects to NATS with the director's client certificate (mutual TLS) and returns the factory. */
export async function createAgentClientFactory(config: DirectorConfig, log: Logger): Promise<AgentClientFactory> {
  const nc = await connect({
    servers: config.nats.url,
    name: `capstan-director-${config.uuid}`,
    tls: {
      caFile: config.nats.ca_path,
      certFile: config.nats.client_certificate_path,
      keyFile: config.nats.client_private_key_path,
      // passed through to tls.connect by nats.js
      checkServerIdentity: natsServerIdentity(config.nats.url),
    } as TlsOptions,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 2_000,
  });
  return new NatsAgentClientFactory(nc, log);
}
