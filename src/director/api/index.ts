// The director's HTTP API: every plugin is registered here, in one visible place.
import Fastify, { type FastifyInstance } from 'fastify';
import type { ApiContext } from './helpers.js';
import { registerAuth } from './auth.js';
import { registerErrorHandlers } from './errors.js';
import { infoRoutes } from './info.js';
import { taskRoutes } from './tasks.js';
import { releaseRoutes } from './releases.js';
import { stemcellRoutes } from './stemcells.js';
import { configRoutes } from './configs.js';
import { configDiffRoutes } from './config-diff.js';
import { deploymentRoutes } from './deployments.js';
import { lockRoutes } from './locks.js';
import { variableRoutes } from './variables.js';
import { instanceRoutes } from './instances.js';
import { eventRoutes } from './events.js';
import { cloudCheckRoutes } from './cloud-check.js';
import { logsAndSshRoutes } from './logs-ssh.js';
import { housekeepingRoutes } from './housekeeping.js';
import { diskRoutes } from './disks.js';

export type { ApiContext } from './helpers.js';

const MAX_TEXT_BODY = 64 * 1024 * 1024; // manifests and configs; tarballs stream to disk without a limit

export interface ApiTls {
  cert: string | Buffer;
  key: string | Buffer;
}

export async function buildApi(ctx: ApiContext, tls: ApiTls): Promise<FastifyInstance> {
  const app = Fastify({ https: { cert: tls.cert, key: tls.key }, logger: false, bodyLimit: ctx.director.config.max_body_bytes ?? MAX_TEXT_BODY });
  registerBodyParsers(app);
  registerAuth(app, ctx.director);
  registerErrorHandlers(app, ctx.director.log);
  app.addHook('onResponse', async (request, reply) => {
    ctx.director.log.debug(`${request.method} ${request.url} -> ${reply.statusCode} (user ${request.user ?? '-'})`);
  });

  await app.register(infoRoutes, ctx);
  await app.register(taskRoutes, ctx);
  await app.register(releaseRoutes, ctx);
  await app.register(stemcellRoutes, ctx);
  await app.register(configRoutes, ctx);
  await app.register(configDiffRoutes, ctx);
  await app.register(deploymentRoutes, ctx);
  await app.register(lockRoutes, ctx);
  await app.register(variableRoutes, ctx);
  await app.register(instanceRoutes, ctx);
  await app.register(eventRoutes, ctx);
  await app.register(cloudCheckRoutes, ctx);
  await app.register(logsAndSshRoutes, ctx);
  await app.register(housekeepingRoutes, ctx);
  await app.register(diskRoutes, ctx);
  return app;
}

function registerBodyParsers(app: FastifyInstance): void {
  app.removeContentTypeParser(['application/json', 'text/plain']);
  // Tarball uploads arrive as raw bodies (director-api.md §1.5): the route gets the stream itself.
  for (const type of ['application/x-compressed', 'application/octet-stream', 'application/gzip', 'application/x-gzip']) {
    app.addContentTypeParser(type, (_request, payload, done) => done(null, payload));
  }
  // Manifests and configs are YAML text.
  app.addContentTypeParser(['text/yaml', 'application/x-yaml', 'text/plain'], { parseAs: 'string' }, (_request, body, done) => done(null, body));
  // The CLI sends `application/json` with an empty body on some POSTs.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      (err as { statusCode?: number }).statusCode = 400;
      done(err as Error, undefined);
    }
  });
}
