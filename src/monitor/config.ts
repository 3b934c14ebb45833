// The health monitor's config file (YAML or JSON), shaped like bosh-monitor's
// (health-monitor.md A.2), with the documented interval defaults.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';

export const DirectorAccess = z.object({
  endpoint: z.string().url(), // https://host:25555
  user: z.string(),
  password: z.string(),
  ca_cert: z.string().optional(), // path to the director's CA (PEM); system roots otherwise
});
export type DirectorAccess = z.infer<typeof DirectorAccess>;

const Intervals = z
  .object({
    prune_events: z.number().positive().default(30),
    poll_director: z.number().positive().default(60),
    poll_grace_period: z.number().nonnegative().default(30),
    log_stats: z.number().positive().default(60),
    analyze_agents: z.number().positive().default(60),
    agent_timeout: z.number().positive().default(60),
    rogue_agent_alert: z.number().positive().default(120),
    analyze_instances: z.number().positive().default(60),
    resurrection_config: z.number().positive().default(60),
  })
  .prefault({});
export type Intervals = z.infer<typeof Intervals>;

const PluginEntry = z.object({
  name: z.string(),
  events: z.array(z.enum(['alert', 'heartbeat'])).default(['alert']),
  options: z.record(z.string(), z.unknown()).default({}),
});
export type PluginEntry = z.infer<typeof PluginEntry>;

export const MonitorConfigSchema = z.object({
  logfile: z.string().optional(),
  loglevel: z.string().default('info'),
  http: z.object({ host: z.string().default('127.0.0.1'), port: z.number().int().nonnegative().default(25923) }).prefault({}),
  mbus: z.object({
    endpoint: z.string(), // nats://host:4222 (TLS is always used)
    server_ca_path: z.string(),
    client_certificate_path: z.string(),
    client_private_key_path: z.string(),
    connection_wait_timeout: z.number().positive().default(60),
    reconnect_time_wait: z.number().positive().default(2), // seconds between reconnect attempts
  }),
  director: DirectorAccess,
  intervals: Intervals,
  plugins: z.array(PluginEntry).default([]),
});
export type MonitorConfig = z.infer<typeof MonitorConfigSchema>;

/** Parses a config object; errors name the path inside the file. */
export function parseMonitorConfig(raw: unknown, file = '<config>'): MonitorConfig {
  const result = MonitorConfigSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`Invalid health monitor config ${file}: ${issue.path.join('.') || '<root>'}: ${issue.message}`);
  }
  return result.data;
}

export function loadMonitorConfig(path: string): MonitorConfig {
  return parseMonitorConfig(parse(readFileSync(path, 'utf8')), path);
}
