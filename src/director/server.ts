// The director process: DB, blobstore and its blob server, CPI, agent clients, HTTP API, task worker.
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { createLogger, type Logger } from '../common/logging.js';
import { LocalBlobstore } from '../blobstore/local.js';
import { startBlobServer, type AgentAccess } from '../blobstore/dav-server.js';
import type { Cpi } from '../cpi/cpi.js';
import type { DirectorConfig } from './config.js';
import type { Kysely } from 'kysely';
import type { Database } from './db/schema.js';
import type { Director, TaskJob } from './context.js';
import { createAgentClientFactory, type AgentClientFactory } from './agent-client.js';
import { createCpi } from '../cpi/factory.js';
import { CpiRegistry, configuredCpiBuilder, type CpiBuilder } from './cpis.js';
import { openDatabase } from './db/index.js';
import { buildApi } from './api/index.js';
import { TaskQueue } from './tasks/queue.js';
import { TaskWorker, recoverInterruptedTasks, type TaskWorkerOptions } from './tasks/worker.js';
import { allTaskJobs } from './tasks/jobs/index.js';
import { createNatsAuthorization } from './nats-auth/sync.js';

export interface RunningDirector {
  /** The API port (useful when config.port is 0). */
  port: number;
  blobstorePort: number;
  director: Director;
  close(): Promise<void>;
}

/** The parts around the director core; tests pass in-memory ones. */
export interface DirectorSeams {
  cpi: Cpi;
  cpiName: string;
  /** Builds the cpi-config's CPIs (default: docker, dummy and external CPIs from their properties). */
  buildCpi?: CpiBuilder;
  agents: AgentClientFactory;
  log: Logger;
  /** Task jobs by type; defaults to every job the director knows. */
  jobs?: Record<string, TaskJob>;
  worker?: TaskWorkerOptions;
}

export async function startDirector(config: DirectorConfig): Promise<RunningDirector> {
  const log = directorLogger(config);
  const { cpi, name } = createCpi(config, readFileSync(config.agent_ca.certificate_path, 'utf8'));
  const agents = await createAgentClientFactory(config, log);
  return startDirectorWith(config, { cpi, cpiName: name, agents, log });
}

function directorLogger(config: DirectorConfig): Logger {
  const destination = config.log_path ? pino.destination({ dest: config.log_path, mkdir: true, sync: false }) : undefined;
  return createLogger('director', destination);
}

export async function startDirectorWith(config: DirectorConfig, seams: DirectorSeams): Promise<RunningDirector> {
  const { log } = seams;
  const closers: Array<() => Promise<void>> = [() => seams.agents.close()];
  let closing: Promise<void> | undefined;
  const closeAll = () => (closing ??= (async () => {
    for (const close of [...closers].reverse()) await close().catch((err) => log.error({ err }, 'Closing the director failed'));
    log.info('Director stopped');
  })());
  try {
    const db = await openDatabase(config.db);
    closers.push(() => db.destroy());
    const interrupted = await recoverInterruptedTasks(db);
    if (interrupted.length > 0) log.warn(`Tasks interrupted by the previous director stop, now 'error': ${interrupted.join(', ')}`);

    const tls = { cert: await readFile(config.tls.certificate_path), key: await readFile(config.tls.private_key_path) };
    const blobServer = await startBlobServer({
      dir: config.blobstore.path,
      bind: config.blobstore.server.bind,
      port: config.blobstore.server.port,
      user: config.blobstore.server.user,
      password: config.blobstore.server.password,
      tls,
      log,
      agents: agentBlobAccess(config, db),
    });
    closers.push(() => blobServer.close());

    const natsAuth = createNatsAuthorization(config, db, log);
    await natsAuth?.sync(); // VMs created or deleted while the director was down
    const director: Director = {
      natsAuth,
      config,
      db,
      blobstore: new LocalBlobstore(config.blobstore.path),
      cpi: seams.cpi,
      cpiName: seams.cpiName,
      cpis: new CpiRegistry(db, seams.cpi, seams.cpiName, seams.buildCpi ?? configuredCpiBuilder(config)),
      agents: seams.agents,
      log,
    };
    const queue = new TaskQueue(db, config.base_dir);
    const app = await buildApi({ director, queue }, tls);
    await app.listen({ host: config.bind, port: config.port });
    closers.push(() => app.close());
    const port = (app.server.address() as AddressInfo).port;

    const worker = new TaskWorker(director, queue, seams.jobs ?? allTaskJobs, seams.worker);
    worker.start();
    closers.push(() => worker.stop());
    log.info(`Director '${config.name}' listening on ${config.bind}:${port} (CPI ${seams.cpiName}, DB ${config.db.adapter})`);

    return { port, blobstorePort: blobServer.port, director, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** Agents reach the blob server with their VM's credential, for as long as the VM exists. */
function agentBlobAccess(config: DirectorConfig, db: Kysely<Database>): AgentAccess {
  return {
    secret: config.blobstore.server.password,
    hasVm: async (agentId) => (await db.selectFrom('vms').select('id').where('agent_id', '=', agentId).executeTakeFirst()) !== undefined,
  };
}
