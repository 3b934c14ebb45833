// Cloud check (director-api.md §2.6) and resurrection pausing (§2.1 PUT /resurrection).
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { badRequest } from '../../common/errors.js';
import type { Database } from '../db/schema.js';
import { enqueueTask, type ApiContext } from './helpers.js';
import { findDeploymentRow } from '../day2/instances.js';
import { openProblems, problemView } from '../day2/cloud-check.js';
import { day2Db } from '../day2/db.js';

type Params = { name: string };
const RESURRECTION_PAUSED = 'resurrection_paused';

export async function resurrectionPaused(db: Kysely<Database>): Promise<boolean> {
  const row = await day2Db(db).selectFrom('director_attributes').select('value').where('name', '=', RESURRECTION_PAUSED).executeTakeFirst();
  return row?.value === 'true';
}

async function setResurrectionPaused(db: Kysely<Database>, paused: boolean): Promise<void> {
  const ddb = day2Db(db);
  const value = String(paused);
  const updated = await ddb.updateTable('director_attributes').set({ value }).where('name', '=', RESURRECTION_PAUSED).executeTakeFirst();
  if (Number(updated.numUpdatedRows) === 0) await ddb.insertInto('director_attributes').values({ name: RESURRECTION_PAUSED, value }).execute();
}

export async function cloudCheckRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { db } = ctx.director;

  app.post<{ Params: Params }>('/deployments/:name/scans', async (request, reply) => {
    const deployment = await findDeploymentRow(db, request.params.name);
    return enqueueTask(ctx, request, reply, {
      type: 'cck_scan', description: 'scan cloud', deploymentName: deployment.name, payload: { deployment_name: deployment.name },
    });
  });

  app.get<{ Params: Params }>('/deployments/:name/problems', async (request) => (await openProblems(db, request.params.name)).map(problemView));

  app.put<{ Params: Params; Body: { resolutions?: unknown } | undefined }>('/deployments/:name/problems', async (request, reply) => {
    const deployment = await findDeploymentRow(db, request.params.name);
    const resolutions = request.body?.resolutions;
    if (typeof resolutions !== 'object' || resolutions === null || Array.isArray(resolutions)) throw badRequest('Expected a JSON body {"resolutions": {"<problem id>": "<resolution>"}}');
    return enqueueTask(ctx, request, reply, {
      type: 'cck_apply', description: 'apply resolutions', deploymentName: deployment.name,
      payload: { deployment_name: deployment.name, resolutions },
    });
  });

  app.put<{ Params: Params; Body: { jobs?: unknown } | undefined }>('/deployments/:name/scan_and_fix', async (request, reply) => {
    const deployment = await findDeploymentRow(db, request.params.name);
    if (await resurrectionPaused(db)) throw badRequest('Resurrection is paused', 410004);
    const jobs = request.body?.jobs;
    if (typeof jobs !== 'object' || jobs === null || Array.isArray(jobs)) throw badRequest('Expected a JSON body {"jobs": {"<instance group>": ["<instance id>", ...]}}');
    return enqueueTask(ctx, request, reply, {
      type: 'cck_scan_and_fix', description: 'scan and fix', deploymentName: deployment.name,
      payload: { deployment_name: deployment.name, jobs },
    });
  });

  app.put<{ Body: { resurrection_paused?: unknown } | undefined }>('/resurrection', async (request, reply) => {
    const paused = request.body?.resurrection_paused;
    if (typeof paused !== 'boolean') throw badRequest('Expected a JSON body {"resurrection_paused": true|false}');
    await setResurrectionPaused(db, paused);
    return reply.code(200).send();
  });
}
