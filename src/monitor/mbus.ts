// NATS intake over mutual TLS: connect (retrying for connection_wait_timeout at startup),
// subscribe to the agent and director subjects, and report when the connection goes away and
// comes back so the monitor can suspend analysis and then give every agent a fresh grace period.
import { connect, type NatsConnection } from 'nats';
import type { Logger } from '../common/logging.js';
import type { MonitorConfig } from './config.js';
import type { Intake } from './intake.js';

export interface MbusEvents {
  onDisconnect(): void;
  onReconnect(): void;
}

export async function connectMbus(mbus: MonitorConfig['mbus'], logger: Logger): Promise<NatsConnection> {
  const deadline = Date.now() + mbus.connection_wait_timeout * 1000;
  for (;;) {
    try {
      return await connect({
        servers: mbus.endpoint,
        name: 'capstan-monitor',
        tls: { caFile: mbus.server_ca_path, certFile: mbus.client_certificate_path, keyFile: mbus.client_private_key_path },
        maxReconnectAttempts: -1, // the monitor outlives any NATS outage
        reconnectTimeWait: mbus.reconnect_time_wait * 1000,
        pingInterval: 20_000,
      });
    } catch (err) {
      if (Date.now() >= deadline) throw new Error(`Cannot connect to NATS at ${mbus.endpoint}: ${err instanceof Error ? err.message : String(err)}`);
      logger.warn(`NATS not reachable yet (${err instanceof Error ? err.message : String(err)}); retrying`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

export function subscribeDirectorAlerts(nc: NatsConnection, intake: Intake): void {
  nc.subscribe('hm.director.alert', { callback: (err, msg) => err || intake.directorAlert(msg.subject, msg.data) });
}

export function subscribeAgents(nc: NatsConnection, intake: Intake): void {
  nc.subscribe('hm.agent.heartbeat.*', { callback: (err, msg) => err || intake.heartbeat(msg.subject, msg.data) });
  nc.subscribe('hm.agent.alert.*', { callback: (err, msg) => err || intake.agentAlert(msg.subject, msg.data) });
  nc.subscribe('hm.agent.shutdown.*', { callback: (err, msg) => err || intake.shutdown(msg.subject) });
}

/** Follows the connection status until it closes. */
export async function watchStatus(nc: NatsConnection, logger: Logger, events: MbusEvents): Promise<void> {
  for await (const status of nc.status()) {
    if (status.type === 'disconnect') {
      logger.warn('NATS connection lost; analysis suspended until it is back');
      events.onDisconnect();
    } else if (status.type === 'reconnect') {
      logger.info('NATS connection back: every agent gets a fresh grace period');
      events.onReconnect();
    }
  }
}
