// Turns NATS messages into registry updates and events. The agent id is the last segment of
// the subject. Malformed payloads are logged (rate-limited, so a flood cannot swamp the log)
// and dropped. Heartbeats cost one JSON.parse plus O(1) registry work; a Heartbeat event is
// only built when some plugin subscribed to heartbeats and the agent belongs to an instance.
import type { Logger } from '../common/logging.js';
import type { Vitals } from '../common/protocol.js';
import type { AgentRegistry } from './agents.js';
import type { EventProcessor } from './event-processor.js';
import type { AlertAttributes } from './events/alert.js';
import { HeartbeatEvent } from './events/heartbeat.js';

const decoder = new TextDecoder();

/** At most `limit` log lines per window; the rest are counted and summarised. */
class DropLog {
  private windowStart = 0;
  private inWindow = 0;
  private suppressed = 0;
  total = 0;

  constructor(private readonly logger: Logger, private readonly limit = 10, private readonly windowMs = 10_000) {}

  drop(subject: string, reason: string, now: number): void {
    this.total++;
    if (now - this.windowStart > this.windowMs) {
      if (this.suppressed > 0) this.logger.warn(`${this.suppressed} more malformed message(s) dropped`);
      this.windowStart = now;
      this.inWindow = 0;
      this.suppressed = 0;
    }
    if (this.inWindow++ < this.limit) this.logger.warn(`Malformed message on ${subject} dropped: ${reason}`);
    else this.suppressed++;
  }
}

function parseObject(data: Uint8Array): Record<string, unknown> | string {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch {
    return 'payload is not JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'payload is not a JSON object';
  return value as Record<string, unknown>;
}

const agentIdOf = (subject: string): string => subject.slice(subject.lastIndexOf('.') + 1);

export class Intake {
  readonly drops: DropLog;

  constructor(
    private readonly registry: AgentRegistry,
    private readonly processor: EventProcessor,
    private readonly logger: Logger,
  ) {
    this.drops = new DropLog(logger);
  }

  heartbeat(subject: string, data: Uint8Array, now = Date.now()): void {
    const agentId = agentIdOf(subject);
    const hb = parseObject(data);
    if (typeof hb === 'string' || agentId === '') return this.drops.drop(subject, typeof hb === 'string' ? hb : 'no agent id', now);
    const jobState = hb.job_state;
    const processes = hb.number_of_processes;
    const vitals = hb.vitals;
    if ((jobState !== undefined && jobState !== null && typeof jobState !== 'string') || (processes !== undefined && processes !== null && typeof processes !== 'number') || (vitals !== undefined && vitals !== null && typeof vitals !== 'object')) {
      return this.drops.drop(subject, 'heartbeat fields have the wrong types', now);
    }
    const agent = this.registry.heartbeat(agentId, now, (jobState as string | undefined) ?? null, (processes as number | undefined) ?? null, (vitals as Vitals | undefined) ?? null);
    if (!this.processor.wants('heartbeat') || !agent.deployment || !agent.job || !agent.instanceId) return;
    // The director's view of the instance wins over what the agent says.
    this.processor.dispatch(
      new HeartbeatEvent({
        timestamp: typeof hb.timestamp === 'number' ? hb.timestamp : Math.floor(now / 1000),
        deployment: agent.deployment,
        agent_id: agentId,
        job: agent.job,
        index: agent.index,
        instance_id: agent.instanceId,
        job_state: agent.jobState,
        teams: this.registry.deployments.get(agent.deployment)?.teams ?? [],
        vitals: agent.vitals,
        ...(processes !== undefined ? { number_of_processes: processes as number | null } : {}),
      }),
      false,
      now,
    );
  }

  agentAlert(subject: string, data: Uint8Array, now = Date.now()): void {
    const agentId = agentIdOf(subject);
    const alert = parseObject(data);
    if (typeof alert === 'string' || agentId === '') return this.drops.drop(subject, typeof alert === 'string' ? alert : 'no agent id', now);
    const agent = this.registry.touch(agentId, now);
    const attrs = { ...alert } as AlertAttributes;
    if (attrs.source === undefined) {
      attrs.source = agent.name;
      attrs.deployment = agent.deployment;
      attrs.job = agent.job;
      attrs.instance_id = agent.instanceId;
    }
    if (typeof attrs.id !== 'string' && attrs.id !== undefined) attrs.id = String(attrs.id);
    this.processor.process('alert', attrs);
  }

  shutdown(subject: string): void {
    const agentId = agentIdOf(subject);
    if (this.registry.shutdown(agentId)) this.logger.info(`Agent ${agentId} shut down; no longer tracked`);
  }

  directorAlert(subject: string, data: Uint8Array, now = Date.now()): void {
    const alert = parseObject(data);
    if (typeof alert === 'string') return this.drops.drop(subject, alert, now);
    const missing = ['id', 'severity', 'title', 'summary', 'created_at'].filter((k) => alert[k] === undefined || alert[k] === null);
    if (missing.length) return this.drops.drop(subject, `director alert is missing ${missing.join(', ')}`, now);
    this.processor.process('alert', { ...alert, id: String(alert.id) } as AlertAttributes);
  }
}
