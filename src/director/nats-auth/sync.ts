// Keeps nats-server's authorization include in step with the director's VMs: one user per agent
// id in the `vms` table (plus agents whose VM is being created right now), the director and the
// health monitor. After rewriting the file the director signals nats-server to reload (SIGHUP).
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Kysely } from 'kysely';
import type { Logger } from '../../common/logging.js';
import type { DirectorConfig } from '../config.js';
import type { Database } from '../db/schema.js';
import { agentUser, authorizationConfig, certificateSubject, directorUser, monitorUser, type NatsUser } from './authorization.js';

export type NatsAuthorizationSettings = NonNullable<DirectorConfig['nats']['authorization']>;

export interface NatsAuthorization {
  /** Grants the agent its user before its VM exists, so its first connect is accepted. */
  allowAgent(agentId: string): Promise<void>;
  /** The agent's VM is now in the DB (or was never created): stop tracking it separately. */
  settleAgent(agentId: string): void;
  /** Rewrites the include from the DB and reloads nats-server when it changed. */
  sync(): Promise<void>;
}

export class NatsAuthorizationSync implements NatsAuthorization {
  private readonly pending = new Set<string>();
  private queue: Promise<void> = Promise.resolve();
  private written: string | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly settings: NatsAuthorizationSettings,
    private readonly staticUsers: NatsUser[],
    private readonly log: Logger,
  ) {}

  async allowAgent(agentId: string): Promise<void> {
    agentUser(agentId); // rejects ids that are not safe in a subject before anything is written
    this.pending.add(agentId);
    await this.sync();
  }

  settleAgent(agentId: string): void {
    this.pending.delete(agentId);
  }

  /** Runs one rewrite at a time, in call order. */
  sync(): Promise<void> {
    const next = this.queue.then(() => this.rewrite());
    this.queue = next.catch(() => {});
    return next;
  }

  private async rewrite(): Promise<void> {
    const rows = await this.db.selectFrom('vms').select('agent_id').execute();
    const agentIds = [...new Set([...rows.map((r) => r.agent_id).filter((id): id is string => !!id), ...this.pending])].sort();
    const text = authorizationConfig([...this.staticUsers, ...agentIds.map(agentUser)]);
    if (text === (this.written ?? readOrEmpty(this.settings.include_path))) return;
    // rename() is atomic: nats-server never reads a half-written file
    const tmp = `${this.settings.include_path}.tmp`;
    writeFileSync(tmp, text, { mode: 0o644 });
    renameSync(tmp, this.settings.include_path);
    this.written = text;
    await this.reload(agentIds.length);
  }

  private async reload(agents: number): Promise<void> {
    const pid = await natsServerPid(this.settings.pid_file);
    if (pid === undefined) {
      this.log.warn(`nats-server (pid file ${this.settings.pid_file}) is not running: its authorization is applied when it starts`);
      return;
    }
    process.kill(pid, 'SIGHUP');
    this.log.debug(`NATS authorization rewritten for ${agents} agent(s); nats-server ${pid} reloading`);
  }
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** The pid in the pid file when that process is a nats-server (pids get reused). */
async function natsServerPid(pidFile: string): Promise<number | undefined> {
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('nats-server') ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The director's and monitor's users: subjects from the config, else read from the director's client certificate. */
export function staticNatsUsers(config: DirectorConfig): NatsUser[] {
  const settings = config.nats.authorization;
  const director = settings?.director_subject ?? certificateSubject(readFileSync(config.nats.client_certificate_path, 'utf8'));
  return [directorUser(director), ...(settings?.monitor_subjects ?? []).map(monitorUser)];
}

export function createNatsAuthorization(config: DirectorConfig, db: Kysely<Database>, log: Logger): NatsAuthorizationSync | undefined {
  const settings = config.nats.authorization;
  if (!settings) return undefined;
  return new NatsAuthorizationSync(db, settings, staticNatsUsers(config), log);
}
