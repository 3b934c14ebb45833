// The plugin seam: each plugin declares its options schema (validated at registration, fatal
// when wrong) and processes the events of the kinds it is registered for.
import type { z } from 'zod';
import type { Logger } from '../../common/logging.js';
import type { AgentRegistry } from '../agents.js';
import type { DirectorAccess, Intervals } from '../config.js';
import type { DirectorClient } from '../director-client.js';
import type { AlertAttributes } from '../events/alert.js';
import type { MonitorEvent } from '../events/event.js';
import type { ResurrectionRules } from '../resurrection-config.js';

export interface PluginContext {
  logger: Logger;
  registry: AgentRegistry;
  director: DirectorClient;
  directorAccess: DirectorAccess;
  intervals: Intervals;
  resurrection: ResurrectionRules;
  /** Raises an alert of the monitor's own through the event processor (every plugin sees it). */
  emitAlert(attrs: AlertAttributes): void;
}

export interface Plugin {
  /** Called once after registration (connections, child processes, timers). */
  run?(): void | Promise<void>;
  process(event: MonitorEvent): void | Promise<void>;
  stop?(): void | Promise<void>;
}

export interface PluginFactory<S extends z.ZodType = z.ZodType> {
  options: S;
  create(options: z.infer<S>, ctx: PluginContext): Plugin;
}

/** Options schemas with defaults and required keys; the error names the plugin and the option. */
export function validateOptions<S extends z.ZodType>(name: string, factory: PluginFactory<S>, raw: unknown): z.infer<S> {
  const result = factory.options.safeParse(raw ?? {});
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`Invalid options for plugin '${name}': ${issue.path.join('.') || '<options>'}: ${issue.message}`);
  }
  return result.data;
}

/** Declares a plugin with its options type inferred from its schema. */
export function definePlugin<S extends z.ZodType>(factory: PluginFactory<S>): PluginFactory<S> {
  return factory;
}
