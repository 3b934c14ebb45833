// GET /deployments/<d>/variables (director-api.md §2.3): the variables the director generated for
// the deployment, as [{id, name}]. Values never leave the director through the API.
import type { FastifyInstance } from 'fastify';
import { notFound } from '../../common/errors.js';
import { listVariables } from '../deploy/variables.js';
import type { ApiContext } from './helpers.js';

export async function variableRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { db } = ctx.director;
  app.get<{ Params: { name: string } }>('/deployments/:name/variables', async (request) => {
    const deployment = await db.selectFrom('deployments').select('id').where('name', '=', request.params.name).executeTakeFirst();
    if (!deployment) throw notFound(`Deployment '${request.params.name}' doesn't exist`, 70000);
    return listVariables(db, deployment.id);
  });
}
