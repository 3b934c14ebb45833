// Wiring: bootstrap (§4.3) -> monit -> NATS subscription -> heartbeats. startAgent() is what main.ts
// runs, and what tests may run in-process.
import type { AgentSettings, Heartbeat } from '../common/protocol.js';
import { createLogger, type Logger } from '../common/logging.js';
import { Applier } from './applier/applier.js';
import { SpecStore } from './applier/spec.js';
import { BlobManager, createBlobstore } from './blobs.js';
import { Compiler } from './compiler.js';
import { createActionFactory } from './actions/factory.js';
import { Heartbeater } from './heartbeat.js';
import { NatsHandler } from './mbus/nats-handler.js';
import { TaskManager } from './mbus/task-manager.js';
import { bootstrapLayout, ensureMonitUser } from './platform/layout.js';
import { vcapPaths, type VcapPaths } from './platform/paths.js';
import { CpuSampler, collectVitals } from './platform/vitals.js';
import type { AgentServices } from './services.js';
import { effectiveBlobstore, loadAgentConfig, loadSettings, mbusCert, mbusUrls, type AgentConfig } from './settings.js';
import { MonitClient, raceTimeout } from './supervisor/monit-client.js';
import { RunitMonit, SpawnedMonit, type MonitProcess } from './supervisor/monit-process.js';
import { MonitJobSupervisor } from './supervisor/job-supervisor.js';

export type AgentPlatform = 'ubuntu' | 'dummy';

export interface StartAgentOptions {
  platform: AgentPlatform;
  configPath: string;
  baseDir: string;
  logger?: Logger;
}

export interface RunningAgent {
  agentId: string;
  paths: VcapPaths;
  settings: AgentSettings;
  /** Stops heartbeats and NATS; in spawn mode also stops the jobs and the monit it spawned. */
  stop(): Promise<void>;
}

/** How long shutdown waits for jobs to stop in spawn mode before killing monit anyway. */
const SPAWN_STOP_GRACE_MS = 15_000;

function createMonitProcess(config: AgentConfig, paths: VcapPaths, logger: Logger): MonitProcess {
  if (config.Capstan.Monit === 'spawn') {
    return new SpawnedMonit(paths, { port: config.Capstan.MonitPort, alertSmtpPort: config.Capstan.AlertSmtpPort, pollSeconds: config.Capstan.MonitPollSeconds }, logger);
  }
  return new RunitMonit();
}

export async function startAgent(options: StartAgentOptions): Promise<RunningAgent> {
  const logger = options.logger ?? createLogger('agent');
  const config = await loadAgentConfig(options.configPath);
  const paths = vcapPaths(options.baseDir);
  await bootstrapLayout(paths);
  process.env.TMPDIR = paths.tmp;
  const settings = await loadSettings(config.Infrastructure.Settings.Sources, paths.settings);
  logger.info({ agent_id: settings.agent_id, base: paths.base, monit: config.Capstan.Monit }, 'Starting agent');

  const monitUser = MonitClient.credentials(await ensureMonitUser(paths));
  const daemon = createMonitProcess(config, paths, logger);
  await daemon.start();
  const monit = new MonitClient({ port: config.Capstan.MonitPort, ...monitUser });
  await monit.status().catch(async (err: Error) => {
    await daemon.shutdown();
    throw new Error(`Starting monit: ${err.message}`);
  });

  const supervisor = new MonitJobSupervisor(paths, monit, daemon, logger);
  const specStore = new SpecStore(paths.spec);
  const blobs = new BlobManager(createBlobstore(effectiveBlobstore(settings)), paths);
  const parallel = Number(settings.env.bosh?.parallel ?? 5) || 5;
  const applier = new Applier(paths, blobs, supervisor, specStore, () => settings.networks, logger, {
    logrotateDir: options.platform === 'ubuntu' ? '/etc/logrotate.d' : undefined,
    parallel,
  });
  const cpu = new CpuSampler();
  await cpu.start();
  const nats = new NatsHandler({ urls: mbusUrls(settings), agentId: settings.agent_id, cert: mbusCert(settings)! }, logger);
  const services: AgentServices = {
    paths,
    settings: () => settings,
    specStore,
    applier,
    supervisor,
    blobs,
    compiler: new Compiler(paths, blobs, logger),
    tasks: new TaskManager(logger),
    vitals: () => collectVitals(paths, cpu),
    notifyShutdown: async () => {
      nats.publish(`hm.agent.shutdown.${settings.agent_id}`, null);
      await nats.flush();
    },
    logger,
  };

  let heartbeater: Heartbeater | undefined;
  try {
    await nats.connect();
    nats.subscribe({ factory: createActionFactory(services), tasks: services.tasks, logger });
    heartbeater = new Heartbeater(
      { specStore, supervisor, vitals: services.vitals, healthPath: paths.health },
      async (hb: Heartbeat) => nats.publish(`hm.agent.heartbeat.${settings.agent_id}`, hb),
      logger,
    );
    await heartbeater.start();
  } catch (err) {
    cpu.stop();
    await nats.close().catch(() => undefined);
    await daemon.shutdown();
    throw err;
  }
  logger.info({ agent_id: settings.agent_id }, 'Agent ready');

  return {
    agentId: settings.agent_id,
    paths,
    settings,
    async stop() {
      heartbeater?.stop();
      cpu.stop();
      await nats.close().catch((err: Error) => logger.warn({ err: err.message }, 'Closing NATS'));
      if (config.Capstan.Monit === 'spawn') {
        // The agent owns this monit: leave no job processes behind when it goes away.
        await Promise.race([supervisor.stopAndWait().catch(() => undefined), raceTimeout(SPAWN_STOP_GRACE_MS)]);
        await daemon.shutdown();
      }
      logger.info('Agent stopped');
    },
  };
}

