// The Heartbeat event (health-monitor.md A.4): an agent's heartbeat with the director's view of
// which instance it is, plus metrics derived from the vitals.
import type { Vitals } from '../../common/protocol.js';
import { InvalidEvent, isPresent, newEventId, toUnixSeconds, utcText, type MonitorEvent } from './event.js';

export interface Metric {
  name: string;
  value: string;
  timestamp: number;
  tags: { job: string | null; index: string | null; id: string | null };
}

export interface HeartbeatAttributes {
  id?: string;
  timestamp?: unknown;
  deployment?: string | null;
  agent_id?: string | null;
  job?: string | null;
  index?: number | string | null;
  instance_id?: string | null;
  job_state?: string | null;
  teams?: string[];
  vitals?: Partial<Vitals> | null;
  number_of_processes?: number | null;
}

export class HeartbeatEvent implements MonitorEvent {
  readonly kind = 'heartbeat' as const;
  readonly id: string;
  readonly timestamp: number;
  readonly deployment: string | null;
  readonly agentId: string | null;
  readonly job: string | null;
  readonly index: string | null;
  readonly instanceId: string | null;
  readonly jobState: string | null;
  readonly teams: string[];
  readonly vitals: Partial<Vitals>;
  readonly numberOfProcesses: number | null | undefined;
  private metricList: Metric[] | undefined;

  constructor(attrs: HeartbeatAttributes) {
    const problems: string[] = [];
    const timestamp = attrs.timestamp === undefined ? Math.floor(Date.now() / 1000) : toUnixSeconds(attrs.timestamp);
    if (timestamp === undefined) problems.push('timestamp is invalid');
    if (attrs.id !== undefined && !isPresent(attrs.id)) problems.push('id is missing');
    if (problems.length) throw new InvalidEvent('heartbeat', problems);
    this.id = attrs.id ?? newEventId();
    this.timestamp = timestamp!;
    this.deployment = attrs.deployment ?? null;
    this.agentId = attrs.agent_id ?? null;
    this.job = attrs.job ?? null;
    this.index = attrs.index === null || attrs.index === undefined ? null : String(attrs.index);
    this.instanceId = attrs.instance_id ?? null;
    this.jobState = attrs.job_state ?? null;
    this.teams = attrs.teams ?? [];
    this.vitals = attrs.vitals ?? {};
    this.numberOfProcesses = attrs.number_of_processes;
  }

  /** Derived metrics; each only when the agent reported the value. Built lazily, once. */
  get metrics(): Metric[] {
    if (this.metricList) return this.metricList;
    const list: Metric[] = [];
    const tags = { job: this.job, index: this.index, id: this.instanceId };
    const add = (name: string, value: unknown) => {
      if (isPresent(value)) list.push({ name, value: String(value), timestamp: this.timestamp, tags });
    };
    const v = this.vitals;
    add('system.load.1m', v.load?.[0]);
    add('system.cpu.user', v.cpu?.user);
    add('system.cpu.sys', v.cpu?.sys);
    add('system.cpu.wait', v.cpu?.wait);
    add('system.mem.percent', v.mem?.percent);
    add('system.mem.kb', v.mem?.kb);
    add('system.swap.percent', v.swap?.percent);
    add('system.swap.kb', v.swap?.kb);
    for (const disk of ['system', 'ephemeral', 'persistent']) {
      add(`system.disk.${disk}.percent`, v.disk?.[disk]?.percent);
      add(`system.disk.${disk}.inode_percent`, v.disk?.[disk]?.inode_percent);
    }
    add('system.healthy', this.jobState === 'running' ? 1 : 0);
    this.metricList = list;
    return list;
  }

  toHash(): Record<string, unknown> {
    const hash: Record<string, unknown> = {
      kind: 'heartbeat',
      id: this.id,
      timestamp: this.timestamp,
      deployment: this.deployment,
      agent_id: this.agentId,
      job: this.job,
      index: this.index,
      instance_id: this.instanceId,
      job_state: this.jobState,
      vitals: this.vitals,
      teams: this.teams,
      metrics: this.metrics,
    };
    if (this.numberOfProcesses !== undefined) hash.number_of_processes = this.numberOfProcesses;
    return hash;
  }

  toJson(): string {
    return JSON.stringify(this.toHash());
  }

  toPlainText(): string {
    return this.toString();
  }

  toString(): string {
    return `Heartbeat from ${this.job}/${this.instanceId} (agent_id=${this.agentId}, index=${this.index}) @ ${utcText(this.timestamp)}`;
  }
}
