// Housekeeping (director-api.md §2.3 errands listing, §2.10): errands, orphaned disks and networks,
// orphaned VMs, clean-up with its dry run.
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { parse as parseYaml } from 'yaml';
import type { Database } from '../db/schema.js';
import { CapstanError } from '../../common/errors.js';
import { enqueueTask, flag, type ApiContext } from './helpers.js';
import { findDeploymentRow } from '../day2/instances.js';
import { cleanupPlan } from '../day2/cleanup.js';

interface ManifestGroup {
  name?: string;
  lifecycle?: string;
  jobs?: Array<{ name?: string; release?: string }>;
}

export async function housekeepingRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { db } = ctx.director;

  app.get<{ Params: { name: string } }>('/deployments/:name/errands', async (request) => {
    const deployment = await findDeploymentRow(db, request.params.name);
    return (await errandNames(db, deployment.id, deployment.manifest_text)).map((name) => ({ name }));
  });

  // Capstan does not orphan networks or VMs yet: the listings are empty (orphaned disks: disks.ts).
  app.get('/orphaned_vms', async () => []);
  app.get<{ Querystring: { orphaned?: string } }>('/networks', async (request) => {
    if (!flag(request.query.orphaned)) throw new CapstanError('Listing networks that are not orphaned is not implemented', 100, 500);
    return [];
  });

  app.get<{ Querystring: { remove_all?: string; keep_orphaned_disks?: string } }>('/cleanup/dryrun', async (request) =>
    cleanupPlan(db, flag(request.query.remove_all), flag(request.query.keep_orphaned_disks)));

  app.post<{ Body: { config?: { remove_all?: unknown; keep_orphaned_disks?: unknown } } | undefined }>('/cleanup', async (request, reply) => {
    const config = request.body?.config ?? {};
    const removeAll = config.remove_all === true || config.remove_all === 'true';
    return enqueueTask(ctx, request, reply, {
      type: 'delete_artifacts',
      description: removeAll ? 'clean up all' : 'clean up',
      payload: { remove_all: removeAll, keep_orphaned_disks: config.keep_orphaned_disks === true },
    });
  });
}

/**
 * Errands: instance groups with `lifecycle: errand`, plus jobs that map a template to bin/run
 * (their job.MF, from the deployment's release versions).
 */
async function errandNames(db: Kysely<Database>, deploymentId: number, manifestText: string | null): Promise<string[]> {
  if (!manifestText) return [];
  const manifest = (parseYaml(manifestText) ?? {}) as { instance_groups?: ManifestGroup[] };
  const groups = manifest.instance_groups ?? [];
  const templates = await db
    .selectFrom('deployments_release_versions')
    .innerJoin('release_versions_templates', 'release_versions_templates.release_version_id', 'deployments_release_versions.release_version_id')
    .innerJoin('templates', 'templates.id', 'release_versions_templates.template_id')
    .innerJoin('releases', 'releases.id', 'templates.release_id')
    .select(['templates.name', 'templates.spec_json', 'releases.name as release'])
    .where('deployments_release_versions.deployment_id', '=', deploymentId)
    .execute();
  const names = new Set(groups.filter((g) => g.lifecycle === 'errand' && g.name).map((g) => g.name!));
  for (const group of groups) {
    for (const job of group.jobs ?? []) {
      const template = templates.find((t) => t.name === job.name && t.release === job.release);
      const files = Object.values((JSON.parse(template?.spec_json ?? '{}') as { templates?: Record<string, string> }).templates ?? {});
      if (job.name && files.some((f) => f === 'bin/run' || f === 'bin/run.ps1')) names.add(job.name);
    }
  }
  return [...names];
}
