// What Heartbeat and Alert share: kind, id, the hash / JSON / plain-text formats plugins use,
// and validation that collects every problem before refusing the event (health-monitor.md A.4).
import { randomUUID } from 'node:crypto';

export type EventKind = 'heartbeat' | 'alert';

export interface MonitorEvent {
  readonly kind: EventKind;
  readonly id: string;
  toHash(): Record<string, unknown>;
  toJson(): string;
  toPlainText(): string;
  toString(): string;
}

export class InvalidEvent extends Error {
  constructor(readonly kind: EventKind, readonly problems: string[]) {
    super(`Invalid ${kind}: ${problems.join(', ')}`);
    this.name = 'InvalidEvent';
  }
}

export const newEventId = (): string => randomUUID();

/** Unix seconds from a number, a numeric string or a date string; undefined when not a time. */
export function toUnixSeconds(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.floor(value) : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    if (/^-?\d+(\.\d+)?$/.test(value.trim())) return Math.floor(Number(value));
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
  }
  if (value instanceof Date) return Math.floor(value.getTime() / 1000);
  return undefined;
}

/** Ruby's `Time#utc.to_s`: "2026-11-21 12:00:00 UTC". */
export function utcText(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

export const isPresent = (v: unknown): boolean => v !== undefined && v !== null && v !== '';
