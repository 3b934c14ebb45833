// The director's config file (written by `capstan up`, or by an operator for production).
import { readFileSync } from 'node:fs';
import { z } from 'zod';

const BlobstoreServer = z.object({
  bind: z.string().default('0.0.0.0'),
  port: z.number().int().default(25250),
  user: z.string(),
  password: z.string(),
});

export const DirectorConfigSchema = z.object({
  name: z.string().default('capstan'),
  uuid: z.string(),
  bind: z.string().default('0.0.0.0'),
  port: z.number().int().default(25555),
  base_dir: z.string(), // tasks/<id>/debug, tmp, caches
  tls: z.object({ certificate_path: z.string(), private_key_path: z.string() }),
  // scopes default to ['bosh.admin'] (director-api.md §1.3)
  users: z.array(z.object({ name: z.string(), password: z.string(), scopes: z.array(z.string()).optional() })).min(1),
  // UAA-style bearer tokens, accepted besides the users above; /info reports `uaa` when url is set
  uaa: z
    .object({
      url: z.string().optional(),
      symmetric_key: z.string().optional(), // HS256
      public_key: z.string().optional(), // RS256, PEM
      public_key_path: z.string().optional(), // RS256, PEM file
    })
    .optional(),
  db: z.discriminatedUnion('adapter', [
    z.object({ adapter: z.literal('sqlite'), database: z.string() }),
    z.object({ adapter: z.literal('postgres'), url: z.string() }),
  ]),
  blobstore: z.object({
    path: z.string(), // local directory the director stores blobs in
    server: BlobstoreServer, // embedded DAV server agents download from / upload to
    agent_endpoint: z.string(), // https://<address agents reach>:25250
  }),
  nats: z.object({
    url: z.string(), // what the director connects to
    agent_url: z.string(), // what agents are told (mbus in their settings)
    ca_path: z.string(),
    client_certificate_path: z.string(),
    client_private_key_path: z.string(),
    // nats-server authorization per client certificate (src/director/nats-auth); off when absent
    authorization: z
      .object({
        include_path: z.string(), // the `authorization {}` include of nats.conf, rewritten when VMs come and go
        pid_file: z.string(), // nats-server's pid file: SIGHUP makes it reload the include
        director_subject: z.string().optional(), // default: subject of client_certificate_path
        monitor_subjects: z.array(z.string()).default([]), // health monitor certificate subjects
      })
      .optional(),
  }),
  agent_ca: z.object({ certificate_path: z.string(), private_key_path: z.string() }), // issues agent mbus certs
  // PEM bundle every agent adds to its VM's trust store (BOSH's director.trusted_certs); a change
  // reaches running VMs on their next deploy through update_settings (deploy/agent-settings.ts)
  trusted_certs: z.string().optional(),
  cpi: z.discriminatedUnion('type', [
    z.object({
      type: z.literal('docker'),
      network: z.string().default('capstan'),
      subnet: z.string().optional(), // used when the network has to be created
      gateway: z.string().optional(),
      socket_path: z.string().optional(),
    }),
    // agent_binary: run this bosh-agent binary instead of the Capstan agent (`capstan up --agent-binary`)
    // supervisor: the Capstan agents' job supervisor, real monit (default) or BOSH's dummy one (benchmarks)
    z.object({ type: z.literal('dummy'), base_dir: z.string(), agent_binary: z.string().optional(), supervisor: z.enum(['monit', 'dummy']).optional() }),
    z.object({
      type: z.literal('external'),
      executable: z.string(),
      properties: z.record(z.string(), z.unknown()).default({}),
      timeout_seconds: z.number().positive().optional(), // per CPI call
    }),
  ]),
  agent_wait_timeout_seconds: z.number().default(600),
  // how long the director waits for an agent's answer before calling it unresponsive; see agentTimeouts()
  agent_timeouts: z
    .object({
      get_state_seconds: z.number().positive().optional(), // deploy: state of every existing VM (--fix recreates the silent ones)
      scan_seconds: z.number().positive().optional(), // cloud check and scan_and_fix
      vm_state_seconds: z.number().positive().optional(), // vms / instances --details ("unresponsive agent")
      unresponsive_stop_seconds: z.number().positive().optional(), // recreating a VM whose agent may be dead
    })
    .optional(),
  // largest JSON/YAML request body the API reads (default 64 MiB); tarball uploads stream to disk
  max_body_bytes: z.number().int().positive().optional(),
  // key file encrypting director-generated variables (created when missing); default <base_dir>/variables.key
  variables_key_path: z.string().optional(),
  log_path: z.string().optional(),
});

export type DirectorConfig = z.infer<typeof DirectorConfigSchema>;

export type AgentTimeouts = Required<NonNullable<DirectorConfig['agent_timeouts']>>;

/** BOSH's values: the agent RPC default (45 s), the cloud check scan (10 s), the VM listing (5 s). */
const DEFAULT_AGENT_TIMEOUTS: AgentTimeouts = { get_state_seconds: 45, scan_seconds: 10, vm_state_seconds: 5, unresponsive_stop_seconds: 10 };

/** The config's agent timeouts, defaults filled in (configs written without them stay valid). */
export function agentTimeouts(config: Pick<DirectorConfig, 'agent_timeouts'>): AgentTimeouts {
  return { ...DEFAULT_AGENT_TIMEOUTS, ...Object.fromEntries(Object.entries(config.agent_timeouts ?? {}).filter(([, v]) => v !== undefined)) };
}

export function loadDirectorConfig(path: string): DirectorConfig {
  const raw = JSON.parse(readFileSync(path, 'utf8'));
  const parsed = DirectorConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`Invalid director config '${path}': ${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}
