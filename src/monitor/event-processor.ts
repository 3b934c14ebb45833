// Builds and validates events, drops duplicates (same supplied id within a kind, for the
// prune_events window) and fans each event out to the plugins of its kind, in config order.
// A plugin failing is logged and never stops the others.
import type { Logger } from '../common/logging.js';
import { AlertEvent, type AlertAttributes } from './events/alert.js';
import { InvalidEvent, type EventKind, type MonitorEvent } from './events/event.js';
import { HeartbeatEvent, type HeartbeatAttributes } from './events/heartbeat.js';
import type { Plugin } from './plugins/plugin.js';

interface Registered {
  name: string;
  plugin: Plugin;
}

export class EventProcessor {
  private readonly plugins: Record<EventKind, Registered[]> = { heartbeat: [], alert: [] };
  /** Supplied event id -> when first received (ms). Generated ids are unique, so never stored. */
  private readonly seen: Record<EventKind, Map<string, number>> = { heartbeat: new Map(), alert: new Map() };
  readonly alertsBySeverity = new Map<number, number>();
  duplicates = 0;
  invalid = 0;

  constructor(private readonly logger: Logger) {}

  register(name: string, plugin: Plugin, kinds: EventKind[]): void {
    for (const kind of kinds) this.plugins[kind].push({ name, plugin });
  }

  wants(kind: EventKind): boolean {
    return this.plugins[kind].length > 0;
  }

  /** Builds the event from raw attributes; invalid ones are logged and dropped. */
  process(kind: EventKind, attrs: HeartbeatAttributes | AlertAttributes): MonitorEvent | undefined {
    let event: MonitorEvent;
    try {
      event = kind === 'alert' ? new AlertEvent(attrs as AlertAttributes) : new HeartbeatEvent(attrs as HeartbeatAttributes);
    } catch (err) {
      if (!(err instanceof InvalidEvent)) throw err;
      this.invalid++;
      this.logger.warn({ problems: err.problems }, `Invalid ${kind} event dropped: ${err.message}`);
      return undefined;
    }
    return this.dispatch(event, attrs.id !== undefined) ? event : undefined;
  }

  /** Returns false when the event was a duplicate. */
  dispatch(event: MonitorEvent, idSupplied: boolean, now = Date.now()): boolean {
    if (idSupplied) {
      const seen = this.seen[event.kind];
      if (seen.has(event.id)) {
        this.duplicates++;
        this.logger.debug(`Ignoring duplicate ${event.kind} '${event.id}'`);
        return false;
      }
      seen.set(event.id, now);
    }
    if (event instanceof AlertEvent) this.alertsBySeverity.set(event.severity, (this.alertsBySeverity.get(event.severity) ?? 0) + 1);
    for (const { name, plugin } of this.plugins[event.kind]) {
      try {
        const done = plugin.process(event);
        if (done) done.catch((err: unknown) => this.pluginFailed(name, err));
      } catch (err) {
        this.pluginFailed(name, err);
      }
    }
    return true;
  }

  /** Forgets ids older than the window (called every prune_events seconds). */
  prune(now: number, windowMs: number): void {
    for (const seen of Object.values(this.seen)) {
      for (const [id, at] of seen) if (now - at > windowMs) seen.delete(id);
    }
  }

  async stop(): Promise<void> {
    const all = new Set([...this.plugins.alert, ...this.plugins.heartbeat].map((r) => r.plugin));
    for (const plugin of all) {
      try {
        await plugin.stop?.();
      } catch (err) {
        this.logger.warn(`Plugin stop failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  private pluginFailed(name: string, err: unknown): void {
    this.logger.error(`Plugin ${name} failed to process an event: ${err instanceof Error ? err.message : String(err)}`);
  }
}
