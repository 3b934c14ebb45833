// Monit alerts (agent-protocol.md §3.2): monit mails them to an SMTP listener on 127.0.0.1:<port>;
// each mail becomes one `hm.agent.alert.<agent_id>` message with BOSH's severity table.
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import type { AgentAlert, NetworkSettings } from '../common/protocol.js';
import type { Logger } from '../common/logging.js';

export interface MonitAlert {
  id: string;
  service: string;
  event: string;
  action: string;
  date: string;
  description: string;
}

const IGNORED = -1;

const SEVERITIES: Record<string, number> = {};
function severity(level: number, events: string[]): void {
  for (const event of events) SEVERITIES[event] = level;
}
severity(1, ['connection failed', 'execution failed', 'monit instance failed', 'does not exist']);
severity(2, ['checksum failed', 'icmp failed', 'pid failed', 'ppid failed', 'timeout', 'uid failed']);
severity(3, [
  'connection changed', 'content failed', "content doesn't match", 'data access error', 'filesystem flags failed',
  'gid failed', 'heartbeat failed', 'invalid type', 'permission failed', 'resource limit matched', 'size failed',
  'size changed', 'timestamp failed',
]);
severity(4, [
  'checksum changed', 'data access changed', 'execution changed', 'filesystem flags changed', 'gid changed',
  'heartbeat changed', 'icmp changed', 'type changed', 'existence changed', 'permission changed', 'pid changed',
  'ppid changed', 'resource limit changed', 'timeout changed', 'timestamp changed', 'uid changed',
]);
severity(IGNORED, ['action done', 'content match', 'monit instance changed', 'type succeeded', 'exists', 'timeout recovery']);

/** 1 alert, 2 critical, 3 error, 4 warning; -1 = not sent; unknown events are critical. */
export function alertSeverity(event: string): number {
  const name = event.trim().toLowerCase();
  if (name.endsWith(' succeeded') || name.endsWith(' not changed')) return IGNORED;
  return SEVERITIES[name] ?? 2;
}

/** Per trimmed line: `Message-id: <X>` and the `Service:`/`Event:`/... lines of the stemcell's mail format. */
export function parseMonitMail(text: string): MonitAlert | undefined {
  const alert: MonitAlert = { id: '', service: '', event: '', action: '', date: '', description: '' };
  const prefixes: Array<[string, keyof MonitAlert]> = [
    ['service:', 'service'],
    ['event:', 'event'],
    ['action:', 'action'],
    ['date:', 'date'],
    ['description:', 'description'],
  ];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const lower = line.toLowerCase();
    if (lower.startsWith('message-id:')) {
      alert.id = line.slice('message-id:'.length).trim().replace(/^<|>$/g, '');
      continue;
    }
    // Mail headers also carry a Date: line; the body's (later) Date: line wins, as in bosh-agent.
    for (const [prefix, key] of prefixes) {
      if (lower.startsWith(prefix)) alert[key] = line.slice(prefix.length).trim();
    }
  }
  return Object.values(alert).every((v) => v === '') ? undefined : alert;
}

function networkIps(networks: Record<string, NetworkSettings>): string[] {
  return Object.values(networks)
    .map((n) => n.ip)
    .filter((ip): ip is string => typeof ip === 'string' && ip !== '')
    .sort();
}

/** The HM payload, or undefined for events BOSH ignores. */
export function toAgentAlert(monit: MonitAlert, networks: Record<string, NetworkSettings>, now = new Date()): AgentAlert | undefined {
  const level = alertSeverity(monit.event);
  if (level === IGNORED) return undefined;
  const ips = networkIps(networks);
  const title = `${monit.service}${ips.length ? ` (${ips.join(', ')})` : ''} - ${monit.event} - ${monit.action}`;
  const parsed = Date.parse(monit.date);
  const createdAt = Number.isFinite(parsed) ? Math.floor(parsed / 1000) : Math.floor(now.getTime() / 1000);
  return { id: monit.id, severity: level, title, summary: monit.description, created_at: createdAt };
}

export interface AlertListener {
  port: number;
  close(): Promise<void>;
}

const MAX_MAIL_BYTES = 256 * 1024;

/** A real SMTP server (loopback only) that hands every parsed alert to `deliver`. */
export async function startAlertListener(port: number, deliver: (alert: MonitAlert) => void, logger: Logger): Promise<AlertListener> {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    hideSTARTTLS: true,
    logger: false,
    size: MAX_MAIL_BYTES,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const alert = parseMonitMail(Buffer.concat(chunks).toString('utf8'));
        if (alert) deliver(alert);
        callback();
      });
    },
  });
  server.on('error', (err) => logger.warn({ err: err.message }, 'Alert SMTP listener error'));
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(new Error(`Starting alert SMTP listener on 127.0.0.1:${port}: ${err.message}`));
    server.server.once('error', onError);
    server.listen(port, '127.0.0.1', () => {
      server.server.off('error', onError);
      resolve();
    });
  });
  const bound = (server.server.address() as AddressInfo).port;
  logger.info({ port: bound }, 'Alert SMTP listener started');
  return { port: bound, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
