// Instance state changes, ignore, VM deletion (director-api.md §2.4, §2.10 DELETE /vms/<cid>).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { badRequest } from '../../common/errors.js';
import { enqueueTask, flag, type ApiContext } from './helpers.js';
import { findInstances } from '../day2/instances.js';
import { STATE_ACTIONS } from '../tasks/jobs/instance-state.js';

type JobParams = { name: string; group: string; id?: string };
type StateQuery = { state?: string; skip_drain?: string; canaries?: string; max_in_flight?: string; fix?: string; dry_run?: string };
type ActionParams = { name: string; group: string; id: string; action: string };
type ActionQuery = { skip_drain?: string; hard?: string; ignore_unresponsive_agent?: string };

const ACTIONS = ['start', 'stop', 'restart', 'recreate'];

export async function instanceRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { db } = ctx.director;

  const changeState = async (request: FastifyRequest<{ Params: JobParams; Querystring: StateQuery }>, reply: FastifyReply) => {
    const { name, group, id } = request.params;
    const state = request.query.state ?? '';
    if (!STATE_ACTIONS[state]) throw badRequest(`Unknown state '${state}': expected one of ${Object.keys(STATE_ACTIONS).join(', ')}`);
    if (typeof request.body === 'string' && request.body.trim() !== '') {
      throw badRequest('Changing instance states together with a new manifest is not supported: deploy the manifest first');
    }
    await findInstances(db, name, group, id);
    const dryRun = flag(request.query.dry_run);
    return enqueueTask(ctx, request, reply, {
      type: 'update_deployment',
      description: dryRun ? 'create deployment (dry run)' : 'create deployment',
      deploymentName: name,
      payload: {
        deployment_name: name,
        job_state: state,
        instance_group: group === '*' ? null : group,
        instance_id: id ?? null,
        skip_drain: flag(request.query.skip_drain),
        fix: flag(request.query.fix),
        dry_run: dryRun,
        canaries: request.query.canaries ?? null,
        max_in_flight: request.query.max_in_flight ?? null,
      },
    });
  };
  app.put<{ Params: JobParams; Querystring: StateQuery }>('/deployments/:name/jobs/:group', changeState);
  app.put<{ Params: JobParams; Querystring: StateQuery }>('/deployments/:name/jobs/:group/:id', changeState);

  app.post<{ Params: ActionParams; Querystring: ActionQuery }>('/deployments/:name/instance_groups/:group/:id/actions/:action', async (request, reply) => {
    const { name, group, id, action } = request.params;
    if (!ACTIONS.includes(action)) throw badRequest(`Unknown instance action '${action}'`);
    await findInstances(db, name, group, id);
    const q = request.query;
    return enqueueTask(ctx, request, reply, {
      type: 'update_instance',
      description: `${action} instance`,
      deploymentName: name,
      payload: {
        deployment_name: name, instance_group: group, instance_id: id, action,
        hard: flag(q.hard), skip_drain: flag(q.skip_drain), ignore_unresponsive_agent: flag(q.ignore_unresponsive_agent),
      },
    });
  });

  app.put<{ Params: { name: string; group: string; id: string }; Body: { ignore?: unknown } | undefined }>(
    '/deployments/:name/instance_groups/:group/:id/ignore',
    async (request, reply) => {
      const [instance] = await findInstances(db, request.params.name, request.params.group, request.params.id);
      const ignore = request.body?.ignore;
      if (typeof ignore !== 'boolean') throw badRequest("Expected a JSON body {\"ignore\": true|false}");
      await db.updateTable('instances').set({ ignore: ignore ? 1 : 0 }).where('id', '=', instance.id).execute();
      return reply.code(200).send();
    },
  );

  // Per-instance resurrection toggling is gone from current directors (§2.4); the CLI still calls it.
  app.put('/deployments/:name/jobs/:group/:id/resurrection', async (_request, reply) => reply.code(410).send());

  app.delete<{ Params: { cid: string } }>('/vms/:cid', async (request, reply) => {
    const { cid } = request.params;
    const vm = await db.selectFrom('vms').select('instance_id').where('cid', '=', cid).executeTakeFirst();
    const instance = vm ? await db.selectFrom('instances').select('deployment_id').where('id', '=', vm.instance_id).executeTakeFirst() : undefined;
    const deployment = instance ? await db.selectFrom('deployments').select('name').where('id', '=', instance.deployment_id).executeTakeFirst() : undefined;
    return enqueueTask(ctx, request, reply, {
      type: 'delete_vm',
      description: `delete vm ${cid}`,
      deploymentName: deployment?.name ?? null,
      payload: { vm_cid: cid },
    });
  });
}
