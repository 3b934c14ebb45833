// Stemcells (director-api.md §2.8): needed-check, upload (raw tarball, or JSON {location, sha1} -> update_stemcell), list, delete.
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { badRequest, notFound } from '../../common/errors.js';
import { enqueueTask, flag, isRawUpload, saveUpload, type ApiContext } from './helpers.js';
import { cpiRegistry, DEFAULT_CPI } from '../cpis.js';

export async function stemcellRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { db } = ctx.director;

  const findStemcell = (name: string, version: string) =>
    db.selectFrom('stemcells').selectAll().where('name', '=', name).where('version', '=', version).executeTakeFirst();

  app.post<{ Body: { stemcell?: { name?: string; version?: string } } }>('/stemcell_uploads', async (request) => {
    const { name, version } = request.body?.stemcell ?? {};
    if (!name || !version) throw badRequest('Stemcell name and version are required');
    // needed when any CPI (the default and every cpi-config one) lacks it
    const rows = await db.selectFrom('stemcells').select('cpi').where('name', '=', name).where('version', '=', String(version)).execute();
    const cpis = [DEFAULT_CPI, ...(await cpiRegistry(ctx.director).configuredNames())];
    return { needed: cpis.some((cpi) => !rows.some((r) => r.cpi === cpi)) };
  });

  app.post<{ Querystring: { fix?: string } }>('/stemcells', async (request, reply) => {
    const fix = flag(request.query.fix);
    if (!isRawUpload(request)) {
      // {location, sha1}: the task downloads the tarball (http or https) to a spool path
      const { location, sha1 } = (request.body ?? {}) as { location?: unknown; sha1?: unknown };
      if (typeof location !== 'string' || !/^https?:\/\//.test(location)) throw badRequest('Expected a stemcell tarball body or JSON {"location": "<http(s) URL>", "sha1": "<digest>"}');
      const stemcellPath = join(ctx.director.config.base_dir, 'tmp', `stemcell-${randomUUID()}.tgz`);
      await mkdir(dirname(stemcellPath), { recursive: true });
      return enqueueTask(ctx, request, reply, {
        type: 'update_stemcell',
        description: 'create stemcell',
        payload: { stemcell_path: stemcellPath, location, ...(typeof sha1 === 'string' && sha1 ? { sha1 } : {}), fix },
      });
    }
    const stemcellPath = await saveUpload(ctx.director, request.body as Readable, 'stemcell');
    return enqueueTask(ctx, request, reply, {
      type: 'update_stemcell',
      description: 'create stemcell',
      payload: { stemcell_path: stemcellPath, fix },
    });
  });

  app.get('/stemcells', async () => {
    const stemcells = await db.selectFrom('stemcells').selectAll().orderBy('name').orderBy('version').orderBy('cpi').execute();
    const usage = await db
      .selectFrom('deployments_stemcells')
      .innerJoin('deployments', 'deployments.id', 'deployments_stemcells.deployment_id')
      .select(['deployments_stemcells.stemcell_id', 'deployments.name'])
      .execute();
    return stemcells.map((s) => ({
      name: s.name,
      operating_system: s.operating_system,
      version: s.version,
      cid: s.cid,
      cpi: s.cpi,
      deployments: usage.filter((u) => u.stemcell_id === s.id).map((u) => ({ name: u.name })),
      api_version: s.api_version,
      id: String(s.id),
    }));
  });

  app.delete<{ Params: { name: string; version: string }; Querystring: { force?: string } }>('/stemcells/:name/:version', async (request, reply) => {
    const { name, version } = request.params;
    if (!(await findStemcell(name, version))) throw notFound(`Stemcell '${name}/${version}' doesn't exist`, 50003);
    return enqueueTask(ctx, request, reply, {
      type: 'delete_stemcell',
      description: `delete stemcell: ${name}/${version}`,
      payload: { name, version, force: flag(request.query.force) },
    });
  });
}
