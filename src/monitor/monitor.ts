// The health monitor process: NATS intake, director polling, periodic analysis, plugins and
// the HTTP API, wired in bosh-monitor's order (health-monitor.md A.1).
//
// No false storms: the monitor never lets its own blind spots look like dead agents. Analysis
// is suspended while NATS or the director is away, and when either comes back, or the monitor
// notices its own event loop stalled, every agent gets a fresh agent_timeout before it can be
// declared timed out. A monitor restart starts every agent fresh by construction.
import { createWriteStream } from 'node:fs';
import type { NatsConnection } from 'nats';
import type { FastifyInstance } from 'fastify';
import { createLogger, type Logger } from '../common/logging.js';
import { AgentRegistry } from './agents.js';
import { analyzeAgents, analyzeInstances } from './analyzer.js';
import type { MonitorConfig } from './config.js';
import { DirectorClient } from './director-client.js';
import { DirectorPoller } from './director-poller.js';
import { EventProcessor } from './event-processor.js';
import type { AlertAttributes } from './events/alert.js';
import { startHttp } from './http.js';
import { Intake } from './intake.js';
import { connectMbus, subscribeAgents, subscribeDirectorAlerts, watchStatus } from './mbus.js';
import { createMetrics } from './metrics.js';
import { PLUGINS } from './plugins/index.js';
import { validateOptions, type Plugin, type PluginContext } from './plugins/plugin.js';
import { ResurrectionRules } from './resurrection-config.js';

export interface RunningMonitor {
  readonly registry: AgentRegistry;
  readonly processor: EventProcessor;
  readonly poller: DirectorPoller;
  readonly httpPort: number;
  /** Every agent gets a fresh grace period (also used by the automatic blind-spot handling). */
  grace(reason: string): void;
  close(): Promise<void>;
}

/**
 * A pulse gap this long means the process itself was stalled (suspended, swapped, starved):
 * 5 s, or a quarter of agent_timeout when that is shorter, since a stall eats into the margin
 * between the agents' heartbeat period and the timeout.
 */
const stallThresholdMs = (agentTimeoutMs: number) => Math.min(5000, agentTimeoutMs / 4);

function monitorLogger(config: MonitorConfig): Logger {
  const destination = config.logfile ? createWriteStream(config.logfile, { flags: 'a' }) : undefined;
  return createLogger('monitor', destination, process.env.CAPSTAN_LOG_LEVEL ?? config.loglevel);
}

/** Builds every configured plugin first, so a bad option fails the start before anything connects. */
function buildPlugins(config: MonitorConfig, ctx: PluginContext): { name: string; plugin: Plugin; events: ('alert' | 'heartbeat')[] }[] {
  return config.plugins.map((entry) => {
    const factory = PLUGINS[entry.name];
    if (!factory) throw new Error(`Unknown health monitor plugin '${entry.name}' (known: ${Object.keys(PLUGINS).join(', ')})`);
    const options = validateOptions(entry.name, factory, entry.options);
    return { name: entry.name, plugin: factory.create(options, ctx), events: entry.events };
  });
}

export async function startMonitor(config: MonitorConfig, logger: Logger = monitorLogger(config)): Promise<RunningMonitor> {
  const intervals = config.intervals;
  const ms = (seconds: number) => seconds * 1000;
  const registry = new AgentRegistry();
  const processor = new EventProcessor(logger);
  const director = new DirectorClient(config.director);
  const resurrection = new ResurrectionRules();
  const emitAlert = (attrs: AlertAttributes) => void processor.process('alert', attrs);

  let natsAway = false;
  const grace = (reason: string) => {
    logger.info(`Fresh grace period for ${registry.agents.size} agent(s): ${reason}`);
    registry.graceAll(Date.now());
  };
  const poller = new DirectorPoller(director, registry, logger, emitAlert, () => grace('director reachable again'));
  const blind = () => natsAway || poller.unreachable || !poller.synced;

  const ctx: PluginContext = { logger, registry, director, directorAccess: config.director, intervals, resurrection, emitAlert };
  const plugins = buildPlugins(config, ctx);

  let nc: NatsConnection | undefined;
  let app: FastifyInstance | undefined;
  const timers: NodeJS.Timeout[] = [];
  const every = (seconds: number, fn: () => unknown) => timers.push(setInterval(fn, ms(seconds)));
  const logFailure = (what: string) => (err: unknown) => logger.error(`${what} failed: ${err instanceof Error ? err.message : String(err)}`);

  const close = async () => {
    for (const t of timers) clearTimeout(t); // clears intervals too
    await app?.close();
    await nc?.close().catch(() => {});
    await processor.stop();
    director.close();
  };

  try {
    nc = await connectMbus(config.mbus, logger);
    logger.info(`Connected to NATS at ${config.mbus.endpoint}`);
    const intake = new Intake(registry, processor, logger);
    subscribeDirectorAlerts(nc, intake);
    for (const { name, plugin, events } of plugins) {
      processor.register(name, plugin, events);
      await plugin.run?.();
      logger.info(`Plugin ${name} registered for ${events.join(', ')}`);
    }
    subscribeAgents(nc, intake);
    void watchStatus(nc, logger, {
      onDisconnect: () => (natsAway = true),
      onReconnect: () => {
        natsAway = false;
        grace('NATS connection back');
      },
    });

    // Called by the pulse and before every analysis: after a stall, overdue timers may run
    // before the heartbeats that queued up meanwhile are read, so the analysis must not trust them.
    let lastPulse = Date.now();
    const stalled = () => {
      const now = Date.now();
      const gap = now - lastPulse;
      lastPulse = now;
      if (gap <= stallThresholdMs(ms(intervals.agent_timeout))) return false;
      grace(`the monitor was stalled for ${Math.round(gap / 1000)} s`);
      return true;
    };
    timers.push(setInterval(stalled, Math.min(1000, stallThresholdMs(ms(intervals.agent_timeout)) / 2)));
    const metrics = createMetrics(registry, processor, () => ms(intervals.agent_timeout));
    const http = await startHttp(config.http.host, config.http.port, {
      registry,
      metrics,
      agentTimeoutMs: ms(intervals.agent_timeout),
      lastPulse: () => lastPulse,
      synced: () => poller.synced,
    });
    app = http.app;
    logger.info(`HTTP API on ${config.http.host}:${http.port}`);

    const poll = () => poller.poll().catch(logFailure('Director poll'));
    void poll();
    every(intervals.poll_director, poll);
    const fetchRules = () => poller.pollResurrectionConfig(resurrection).catch(logFailure('Resurrection config fetch'));
    void fetchRules();
    every(intervals.resurrection_config, fetchRules);
    every(intervals.prune_events, () => processor.prune(Date.now(), ms(intervals.prune_events)));
    every(intervals.log_stats, () => logger.info(`Managing ${registry.deployments.size} deployments, ${registry.agents.size} agents; ${registry.heartbeatsReceived} heartbeats received`));

    const times = { agentTimeoutMs: ms(intervals.agent_timeout), rogueAgentMs: ms(intervals.rogue_agent_alert) };
    const analyzeAgentsTick = () => {
      if (stalled()) return;
      if (blind()) return logger.info('Agent analysis skipped: NATS or the director is away');
      analyzeAgents(registry, times, Date.now(), emitAlert);
    };
    const analyzeInstancesTick = () => {
      if (stalled()) return;
      if (blind()) return logger.info('Instance analysis skipped: the director is away');
      analyzeInstances(registry, Date.now(), emitAlert);
    };
    timers.push(
      setTimeout(() => {
        every(intervals.analyze_agents, analyzeAgentsTick);
        every(intervals.analyze_instances, analyzeInstancesTick);
      }, ms(intervals.poll_grace_period)),
    );

    return { registry, processor, poller, httpPort: http.port, grace, close };
  } catch (err) {
    await close();
    throw err;
  }
}
