// Logs and ssh (director-api.md §2.5), and the blobs they produce (GET /resources/<id>, §2.1).
import type { FastifyInstance } from 'fastify';
import { badRequest, notFound } from '../../common/errors.js';
import { enqueueTask, type ApiContext } from './helpers.js';
import { findDeploymentRow, findInstances } from '../day2/instances.js';

const LOG_TYPES = ['job', 'agent', 'system'];

export async function logsAndSshRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { db, blobstore } = ctx.director;

  app.get<{ Params: { name: string; group: string; id: string }; Querystring: { type?: string; filters?: string } }>(
    '/deployments/:name/jobs/:group/:id/logs',
    async (request, reply) => {
      const { name, group, id } = request.params;
      const logType = request.query.type || 'job';
      for (const t of logType.split(',')) if (!LOG_TYPES.includes(t)) throw badRequest(`Invalid log type '${t}'`);
      await findInstances(db, name, group, id);
      const filters = request.query.filters ? request.query.filters.split(',').filter(Boolean) : null;
      return enqueueTask(ctx, request, reply, {
        type: 'fetch_logs',
        description: 'fetch logs',
        deploymentName: name,
        payload: { deployment_name: name, instance_group: group, instance_id: id, log_type: logType, filters },
      });
    },
  );

  app.get<{ Params: { id: string } }>('/resources/:id', async (request, reply) => {
    const { id } = request.params;
    const exists = await blobstore.exists(id).catch(() => false); // an id that is no valid blob name is simply unknown
    if (!exists) throw notFound(`Resource '${id}' not found`, 100);
    return reply.type('application/x-gzip').send(await blobstore.getStream(id));
  });

  app.post<{ Params: { name: string }; Body: Record<string, unknown> | undefined }>('/deployments/:name/ssh', async (request, reply) => {
    const deployment = await findDeploymentRow(db, request.params.name);
    const body = request.body ?? {};
    const command = body.command;
    if (command !== 'setup' && command !== 'cleanup') throw badRequest(`Unknown ssh command '${String(command)}'`);
    const target = (typeof body.target === 'object' && body.target !== null ? body.target : {}) as Record<string, unknown>;
    if (typeof target.job === 'string' && target.job !== '') await findInstances(db, deployment.name, target.job);
    return enqueueTask(ctx, request, reply, {
      type: 'ssh',
      description: `ssh: ${command}:${JSON.stringify(target)}`,
      deploymentName: deployment.name,
      payload: { deployment_name: deployment.name, target, command, params: body.params ?? {} },
    });
  });
}
