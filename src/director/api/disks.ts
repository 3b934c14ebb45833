// Disks (director-api.md §2.10): orphaned disks listed and deleted, an attached disk orphaned, and a
// disk attached to a stopped instance (`attach-disk`). Everything that changes a disk is a task.
import type { FastifyInstance } from 'fastify';
import { badRequest } from '../../common/errors.js';
import { enqueueTask, flag, type ApiContext } from './helpers.js';
import { checkInstanceId, findDeploymentRow } from '../day2/instances.js';
import { orphanDisks, orphanDiskView } from '../deploy/disk-manager.js';

type CidParams = { cid: string };

export async function diskRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { db } = ctx.director;

  // The CLI's `disks --orphaned` asks `/disks`; `?orphaned=true` is accepted too: only orphans are listed.
  app.get('/disks', async () => (await orphanDisks(db)).map(orphanDiskView));

  app.delete<{ Params: CidParams; Querystring: { orphan?: string } }>('/disks/:cid', async (request, reply) => {
    const { cid } = request.params;
    if (flag(request.query.orphan)) {
      return enqueueTask(ctx, request, reply, { type: 'orphan_disk', description: 'orphan disk', payload: { disk_cid: cid } });
    }
    const owned = await db.selectFrom('persistent_disks').select('id').where('disk_cid', '=', cid).executeTakeFirst();
    if (owned) throw badRequest(`Deleting persistent disk is not supported: ["${cid}"]`);
    return enqueueTask(ctx, request, reply, { type: 'delete_orphan_disks', description: 'delete orphan disks', payload: { orphan_disk_cids: [cid] } });
  });

  app.put<{ Params: CidParams; Querystring: { deployment?: string; job?: string; instance_id?: string; disk_properties?: string } }>(
    '/disks/:cid/attachments',
    async (request, reply) => {
      const { deployment, job, instance_id: instanceId, disk_properties: diskProperties } = request.query;
      if (!deployment || !job || !instanceId) throw badRequest('Expected query parameters deployment, job and instance_id');
      checkInstanceId(instanceId);
      const row = await findDeploymentRow(db, deployment);
      const cid = request.params.cid;
      return enqueueTask(ctx, request, reply, {
        type: 'attach_disk',
        description: `attach disk '${cid}' to '${job}/${instanceId}'`,
        deploymentName: row.name,
        payload: { deployment_name: row.name, job, instance_id: instanceId, disk_cid: cid, disk_properties: diskProperties ?? null },
      });
    },
  );
}
