// The Alert event (health-monitor.md A.4): validated fields, severity names, and the formats
// plugins send (hash, JSON, plain text, short description).
import { InvalidEvent, isPresent, newEventId, toUnixSeconds, utcText, type MonitorEvent } from './event.js';

export type AlertCategory = 'vm_health' | 'deployment_health';

export const SEVERITY_NAMES: Record<number, string> = { 1: 'alert', 2: 'critical', 3: 'error', 4: 'warning', [-1]: 'ignored' };

/** The severity's name; an unmapped number is passed through as itself. */
export const severityName = (severity: number): string => SEVERITY_NAMES[severity] ?? String(severity);

export interface AlertAttributes {
  id?: string;
  severity?: unknown;
  category?: AlertCategory | null;
  title?: unknown;
  summary?: unknown;
  source?: string | null;
  deployment?: string | null;
  job?: string | null;
  instance_id?: string | null;
  created_at?: unknown;
  jobs_to_instance_ids?: Record<string, string[]>;
}

export class AlertEvent implements MonitorEvent {
  readonly kind = 'alert' as const;
  readonly id: string;
  readonly severity: number;
  readonly category: AlertCategory | null;
  readonly title: string;
  readonly summary: string;
  readonly source: string | null;
  readonly deployment: string | null;
  readonly job: string | null;
  readonly instanceId: string | null;
  readonly createdAt: number;
  readonly jobsToInstanceIds: Record<string, string[]> | undefined;

  constructor(attrs: AlertAttributes) {
    const problems: string[] = [];
    if (attrs.id !== undefined && !isPresent(attrs.id)) problems.push('id is missing');
    if (!isPresent(attrs.severity)) problems.push('severity is missing');
    else if (!Number.isInteger(attrs.severity) || (attrs.severity as number) < 0) problems.push('severity is invalid non-negative integer');
    if (!isPresent(attrs.title)) problems.push('title is missing');
    const createdAt = toUnixSeconds(attrs.created_at);
    if (!isPresent(attrs.created_at)) problems.push('created_at is missing');
    else if (createdAt === undefined) problems.push('created_at is invalid timestamp');
    if (problems.length) throw new InvalidEvent('alert', problems);
    this.id = attrs.id ?? newEventId();
    this.severity = attrs.severity as number;
    this.category = attrs.category ?? null;
    this.title = String(attrs.title);
    this.summary = isPresent(attrs.summary) ? String(attrs.summary) : this.title;
    this.source = attrs.source ?? null;
    this.deployment = attrs.deployment ?? null;
    this.job = attrs.job ?? null;
    this.instanceId = attrs.instance_id ?? null;
    this.createdAt = createdAt!;
    this.jobsToInstanceIds = attrs.jobs_to_instance_ids;
  }

  get severityName(): string {
    return severityName(this.severity);
  }

  toHash(): Record<string, unknown> {
    const hash: Record<string, unknown> = {
      kind: 'alert',
      id: this.id,
      severity: this.severity,
      category: this.category,
      title: this.title,
      summary: this.summary,
      source: this.source,
      deployment: this.deployment,
      created_at: this.createdAt,
    };
    if (this.jobsToInstanceIds) hash.jobs_to_instance_ids = this.jobsToInstanceIds;
    return hash;
  }

  toJson(): string {
    return JSON.stringify(this.toHash());
  }

  /** "Severity N: source title" (PagerDuty's description). */
  shortDescription(): string {
    return `Severity ${this.severity}: ${this.source ?? ''} ${this.title}`;
  }

  toPlainText(): string {
    const lines: string[] = [];
    if (this.source) lines.push(this.source);
    lines.push(this.title || 'Unknown Alert');
    lines.push(`Severity: ${this.severity}`);
    lines.push(`Summary: ${this.summary}`);
    lines.push(`Time: ${utcText(this.createdAt)}`);
    return lines.join('\n');
  }

  toString(): string {
    return `Alert @ ${utcText(this.createdAt)}, severity ${this.severity}: ${this.summary}`;
  }
}
