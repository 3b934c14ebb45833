// Wiring: bootstrap (§4.3) -> job supervisor (monit, coming up in the background) -> persistent task
// resume -> mbus (NATS or HTTPS) -> once monit answers: heartbeats and the monit alert listener. startAgent() is what main.ts runs, and what
// tests may run in-process.
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentSettings, Heartbeat, MbusCert } from '../common/protocol.js';
import { createLogger, type Logger } from '../common/logging.js';
import { Applier } from './applier/applier.js';
import { SpecStore } from './applier/spec.js';
import { BlobManager, createBlobstore } from './blobs.js';
import { Compiler } from './compiler.js';
import { createActionFactory } from './actions/factory.js';
import { startAlertListener, toAgentAlert, type AlertListener } from './alerts.js';
import { Heartbeater } from './heartbeat.js';
import type { ActionFactory, DispatchDeps } from './mbus/dispatcher.js';
import { HttpsHandler } from './mbus/https-handler.js';
import { NatsHandler } from './mbus/nats-handler.js';
import { TaskManager, TaskStore } from './mbus/task-manager.js';
import { DiskManager, DummyMounter, LinuxMounter } from './platform/disks.js';
import { bootstrapLayout, ensureAlertsMonitrc, ensureMonitUser, mountRunDirTmpfs, runDirTmpfsSize, writeFileAtomic } from './platform/layout.js';
import { vcapPaths, type VcapPaths } from './platform/paths.js';
import { CpuSampler, collectVitals } from './platform/vitals.js';
import type { AgentPlatform, AgentServices } from './services.js';
import {
  effectiveBlobstore,
  loadAgentConfig,
  loadSettings,
  loadUpdateSettings,
  mbusCert,
  mbusUrls,
  type AgentConfig,
  type UpdateSettings,
} from './settings.js';
import { DummyJobSupervisor } from './supervisor/dummy-supervisor.js';
import { MonitClient, raceTimeout } from './supervisor/monit-client.js';
import { RunitMonit, SpawnedMonit, type MonitProcess } from './supervisor/monit-process.js';
import { MonitJobSupervisor, type JobSupervisor } from './supervisor/job-supervisor.js';
import { PendingJobSupervisor } from './supervisor/pending-supervisor.js';

export type { AgentPlatform } from './services.js';
export type JobSupervisorKind = 'monit' | 'dummy' | 'dummy-nats';

export interface StartAgentOptions {
  platform: AgentPlatform;
  configPath: string;
  baseDir: string;
  /** `-M`: monit (default), or bosh-agent's test supervisors dummy / dummy-nats. */
  supervisor?: JobSupervisorKind;
  logger?: Logger;
  /** Heartbeats failed for good: the supervisor (runit) must restart the agent. Default: exit 1. */
  onFatal?: (err: Error) => void;
  /** update_settings changed an mbus the agent cannot reconnect in-process (HTTPS). Default: exit 0 after 1 s. */
  onRestart?: (reason: string) => void;
}

export interface RunningAgent {
  agentId: string;
  paths: VcapPaths;
  settings: AgentSettings;
  /** Port of the HTTPS mbus when the mbus URL is https:// (port 0 in the URL picks a free one). */
  httpsPort?: number;
  /** Port of the monit alert SMTP listener (monit supervisor only). */
  alertPort?: number;
  /** Stops heartbeats and the mbus; in spawn mode also stops the jobs and the monit it spawned. */
  stop(): Promise<void>;
}

/** How long shutdown waits for jobs to stop in spawn mode before killing monit anyway. */
const SPAWN_STOP_GRACE_MS = 15_000;

interface Supervision {
  supervisor: JobSupervisor;
  daemon?: MonitProcess;
}

async function startSupervision(kind: JobSupervisorKind, config: AgentConfig, paths: VcapPaths, logger: Logger): Promise<Supervision> {
  if (kind !== 'monit') return { supervisor: new DummyJobSupervisor(paths) };
  const monitUser = MonitClient.credentials(await ensureMonitUser(paths));
  await ensureAlertsMonitrc(paths);
  const { MonitPort: port, AlertSmtpPort: alertSmtpPort, MonitPollSeconds: pollSeconds } = config.Capstan;
  const withoutJobs = await access(paths.monitStopped).then(() => true, () => false);
  const daemon: MonitProcess =
    config.Capstan.Monit === 'spawn' ? new SpawnedMonit(paths, { port, alertSmtpPort, pollSeconds, withoutJobs }, logger) : new RunitMonit();
  await daemon.start();
  const monit = new MonitClient({ port, ...monitUser });
  // A fresh monit answers within a few hundred ms: probe quickly first (first heartbeat < 1 s),
  // then fall back to bosh-agent's 20 tries 1 s apart.
  const probe = new MonitClient({ port, ...monitUser, retryDelayMs: 100 });
  await probe.status().catch(() => monit.status()).catch(async (err: Error) => {
    await daemon.shutdown();
    throw new Error(`Starting monit: ${err.message}`);
  });
  const { StopTimeoutSeconds: stopSeconds = 300, ReloadTimeoutSeconds: reloadSeconds = 10 } = config.Capstan;
  const timeouts = { stopTimeoutMs: stopSeconds * 1000, reloadCheckMs: (reloadSeconds * 1000) / 10 };
  return { supervisor: new MonitJobSupervisor(paths, monit, daemon, logger, timeouts), daemon };
}

/** The mbus transport the URL scheme selects (§1.1): NATS or the HTTPS server. */
interface Mbus {
  start(deps: DispatchDeps): Promise<void>;
  publish(subject: string, payload: unknown): Promise<void>;
  close(): Promise<void>;
  httpsPort?: number;
  /** NATS only: move to new URLs / client certificate in-process (update_settings mbus). */
  reconnect?(urls: string[], cert: MbusCert): Promise<void>;
}

function createMbus(settings: AgentSettings, update: UpdateSettings, paths: VcapPaths, logger: Logger): Mbus {
  const urls = mbusUrls(settings, update);
  if (urls.length === 0) throw new Error('No mbus URL in settings');
  const scheme = new URL(urls[0]).protocol;
  const cert = mbusCert(settings, update)!;
  if (scheme === 'https:') {
    const https = new HttpsHandler({ url: urls[0], cert, blobsDir: paths.blobs }, logger);
    const mbus: Mbus = {
      async start(deps) {
        mbus.httpsPort = await https.start(deps);
      },
      publish: async () => undefined, // heartbeats and alerts are not sent over HTTPS
      close: () => https.close(),
    };
    return mbus;
  }
  if (scheme !== 'nats:') throw new Error(`Unsupported mbus URL scheme '${scheme}'`);
  const nats = new NatsHandler({ urls, agentId: settings.agent_id, cert }, logger);
  return {
    async start(deps) {
      await nats.connect();
      nats.subscribe(deps);
    },
    async publish(subject, payload) {
      nats.publish(subject, payload);
      await nats.flush();
    },
    close: () => nats.close(),
    reconnect: (next, nextCert) => nats.reconnect(next, nextCert),
  };
}

function blobstoreCa(settings: AgentSettings, update: UpdateSettings): string | undefined {
  const tls = effectiveBlobstore(settings, update).options.tls as { cert?: { ca?: string } } | undefined;
  return tls?.cert?.ca;
}

function defaultRestart(logger: Logger): (reason: string) => void {
  return (reason) => {
    logger.info({ reason }, 'Restarting agent');
    setTimeout(() => process.exit(0), 1000);
  };
}

function defaultFatal(logger: Logger): (err: Error) => void {
  return (err) => {
    logger.fatal({ err: err.message }, 'Agent exiting');
    setTimeout(() => process.exit(1), 100);
  };
}

/** dummy-nats: the director's test harness sets the job state with `set_dummy_status` [{status}]. */
function withDummyStatus(factory: ActionFactory, supervisor: JobSupervisor): ActionFactory {
  return {
    create: (method) =>
      method === 'set_dummy_status'
        ? {
            name: method,
            isAsynchronous: false,
            requiredArgs: 1,
            run: async (args) => {
              (supervisor as DummyJobSupervisor).setStatus(String((args[0] as { status?: string })?.status ?? ''));
              return 'ok';
            },
          }
        : factory.create(method),
  };
}

export async function startAgent(options: StartAgentOptions): Promise<RunningAgent> {
  const logger = options.logger ?? createLogger('agent');
  const kind = options.supervisor ?? 'monit';
  const config = await loadAgentConfig(options.configPath);
  const paths = vcapPaths(options.baseDir);
  await bootstrapLayout(paths);
  process.env.TMPDIR = paths.tmp;
  const sources = config.Infrastructure.Settings.Sources;
  let settings = await loadSettings(sources, paths.settings);
  let update = await loadUpdateSettings(paths.updateSettings);
  logger.info({ agent_id: settings.agent_id, base: paths.base, supervisor: kind, monit: config.Capstan.Monit }, 'Starting agent');
  if (options.platform === 'ubuntu') await mountRunDirTmpfs(paths, runDirTmpfsSize(settings.env.bosh), logger);

  // monit takes a second or more to come up: the mbus answers (ping) meanwhile, and whatever needs
  // monit waits for it through the pending supervisor.
  const mbus = createMbus(settings, update, paths, logger);
  const supervision = startSupervision(kind, config, paths, logger);
  const supervisor: JobSupervisor = kind === 'monit' ? new PendingJobSupervisor(supervision.then((s) => s.supervisor)) : (await supervision).supervisor;
  let daemon: MonitProcess | undefined;
  const specStore = new SpecStore(paths.spec);
  const blobs = new BlobManager(createBlobstore(effectiveBlobstore(settings, update), paths.blobs), paths, blobstoreCa(settings, update));
  const parallel = Number(settings.env.bosh?.parallel ?? 5) || 5;
  const applier = new Applier(paths, blobs, supervisor, specStore, () => settings.networks, logger, {
    logrotateDir: options.platform === 'ubuntu' ? '/etc/logrotate.d' : undefined,
    parallel,
  });
  const reloadSettings = async () => (settings = await loadSettings(sources, paths.settings));
  const cpu = new CpuSampler();
  await cpu.start();
  const restart = options.onRestart ?? defaultRestart(logger);
  const services: AgentServices = {
    platform: options.platform,
    paths,
    settings: () => settings,
    reloadSettings,
    updateSettings: () => update,
    async saveUpdateSettings(next) {
      await writeFileAtomic(paths.updateSettings, JSON.stringify(next), 0o600);
      update = next;
    },
    requestRestart(reason) {
      restart(reason);
      return new Promise<never>(() => undefined);
    },
    async reconnectMbus(next) {
      if (!mbus.reconnect) return false;
      const cert = mbusCert(settings, next);
      if (!cert) return false;
      await mbus.reconnect(mbusUrls(settings, next), cert);
      return true;
    },
    useBlobstore(next) {
      blobs.useBlobstore(createBlobstore(effectiveBlobstore(settings, next), paths.blobs), blobstoreCa(settings, next));
    },
    blobstoreCa: () => blobstoreCa(settings, update),
    specStore,
    applier,
    supervisor,
    blobs,
    compiler: new Compiler(paths, blobs, logger),
    disks: new DiskManager(paths, options.platform === 'dummy' ? new DummyMounter() : new LinuxMounter(join(paths.bosh, 'mounts.json')), reloadSettings),
    tasks: new TaskManager(logger, new TaskStore(paths.tasks)),
    vitals: () => collectVitals(paths, cpu),
    notifyShutdown: () => mbus.publish(`hm.agent.shutdown.${settings.agent_id}`, null),
    logger,
  };

  let factory = createActionFactory(services);
  if (kind === 'dummy-nats') factory = withDummyStatus(factory, supervisor);
  await services.tasks.resumePersisted((method) => factory.create(method));

  let heartbeater: Heartbeater | undefined;
  let alerts: AlertListener | undefined;
  try {
    await mbus.start({ factory, tasks: services.tasks, logger });
    daemon = (await supervision).daemon;
    if (daemon) {
      alerts = await startAlertListener(
        config.Capstan.AlertSmtpPort,
        (monitAlert) => {
          const alert = toAgentAlert(monitAlert, settings.networks);
          if (!alert) return;
          logger.info({ id: alert.id, title: alert.title, severity: alert.severity }, 'Sending alert');
          mbus.publish(`hm.agent.alert.${settings.agent_id}`, alert).catch((err: Error) => logger.error({ err: err.message }, 'Sending alert'));
        },
        logger,
      );
    }
    heartbeater = new Heartbeater(
      { specStore, supervisor, vitals: services.vitals, healthPath: paths.health },
      (hb: Heartbeat) => mbus.publish(`hm.agent.heartbeat.${settings.agent_id}`, hb),
      logger,
      options.onFatal ?? defaultFatal(logger),
    );
    await heartbeater.start();
  } catch (err) {
    cpu.stop();
    await alerts?.close();
    await mbus.close().catch(() => undefined);
    // monit may still be coming up: wait for it, so that a spawned one is not left behind
    await (daemon ?? (await supervision.then((s) => s.daemon, () => undefined)))?.shutdown();
    throw err;
  }
  logger.info({ agent_id: settings.agent_id }, 'Agent ready');

  return {
    agentId: settings.agent_id,
    paths,
    settings,
    httpsPort: mbus.httpsPort,
    alertPort: alerts?.port,
    async stop() {
      heartbeater?.stop();
      cpu.stop();
      await alerts?.close();
      await mbus.close().catch((err: Error) => logger.warn({ err: err.message }, 'Closing the mbus'));
      if (daemon && config.Capstan.Monit === 'spawn') {
        // The agent owns this monit: leave no job processes behind when it goes away.
        await Promise.race([supervisor.stopAndWait().catch(() => undefined), raceTimeout(SPAWN_STOP_GRACE_MS)]);
        await daemon.shutdown();
      }
      logger.info('Agent stopped');
    },
  };
}
