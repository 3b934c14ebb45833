// Deployments (director-api.md §2.3, §2.5): list, manifest, deploy, delete, vms, instances, errands.
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { parse as parseYaml } from 'yaml';
import { badRequest, notFound } from '../../common/errors.js';
import type { Database } from '../db/schema.js';
import { enqueueTask, flag, type ApiContext } from './helpers.js';
import { latestConfig } from './configs.js';
import { deploymentLockName } from '../tasks/locks.js';
import { nowSeconds } from '../db/index.js';
import { manifestDiff, manifestValue, redactManifestText } from './manifest-diff.js';

type Params = { name: string };

interface DeployQuery {
  recreate?: string;
  recreate_persistent_disks?: string;
  fix?: string;
  dry_run?: string;
  skip_drain?: string;
  canaries?: string;
  max_in_flight?: string;
  context?: string;
}

export async function deploymentRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { db } = ctx.director;

  app.get<{ Querystring: Record<string, string | undefined> }>('/deployments', async (request) => listDeployments(db, request.query));

  // BOSH answers the manifest as deployed (`bosh manifest > m.yml` must round-trip); `redact=true` (what
  // `capstan manifest` asks unless --no-redact) hides secret values (manifest-diff.ts)
  app.get<{ Params: Params; Querystring: { redact?: string } }>('/deployments/:name', async (request) => {
    const deployment = await findDeployment(db, request.params.name);
    const text = deployment.manifest_text ?? '';
    return { manifest: request.query.redact === 'true' ? redactManifestText(text) : text };
  });

  app.post<{ Params: Params; Querystring: { redact?: string } }>('/deployments/:name/diff', async (request) =>
    deploymentDiff(db, request.params.name, typeof request.body === 'string' ? request.body : '', request.query.redact !== 'false'),
  );

  app.post<{ Querystring: DeployQuery }>('/deployments', async (request, reply) => {
    const manifestText = typeof request.body === 'string' ? request.body : '';
    const name = manifestName(manifestText);
    await ensureDeploymentRow(db, name);
    const q = request.query;
    return enqueueTask(ctx, request, reply, {
      type: 'update_deployment',
      description: flag(q.dry_run) ? 'create deployment (dry run)' : 'create deployment',
      deploymentName: name,
      payload: {
        deployment_name: name,
        manifest_text: manifestText,
        recreate: flag(q.recreate),
        recreate_persistent_disks: flag(q.recreate_persistent_disks),
        fix: flag(q.fix),
        dry_run: flag(q.dry_run),
        skip_drain: q.skip_drain ?? null,
        canaries: q.canaries ?? null,
        max_in_flight: q.max_in_flight ?? null,
        context: q.context ? parseContext(q.context) : null,
      },
    });
  });

  app.delete<{ Params: Params; Querystring: { force?: string } }>('/deployments/:name', async (request, reply) => {
    const deployment = await findDeployment(db, request.params.name);
    return enqueueTask(ctx, request, reply, {
      type: 'delete_deployment',
      description: `delete deployment ${deployment.name}`,
      deploymentName: deployment.name,
      payload: { deployment_name: deployment.name, force: flag(request.query.force) },
    });
  });

  app.get<{ Params: Params; Querystring: { format?: string } }>('/deployments/:name/vms', async (request, reply) => {
    const deployment = await findDeployment(db, request.params.name);
    if (request.query.format === 'full') {
      return enqueueTask(ctx, request, reply, {
        type: 'vms',
        description: 'retrieve vm-stats',
        deploymentName: deployment.name,
        payload: { deployment_name: deployment.name, format: 'full' },
      });
    }
    const rows = await instanceRows(db, deployment.id, 'vms');
    return rows.map(({ expects_vm: _, ...vm }) => ({ ...vm, permanent_nats_credentials: false }));
  });

  app.get<{ Params: Params; Querystring: { format?: string } }>('/deployments/:name/instances', async (request, reply) => {
    const deployment = await findDeployment(db, request.params.name);
    if (request.query.format === 'full') {
      return enqueueTask(ctx, request, reply, {
        type: 'vms',
        description: 'retrieve vm-stats',
        deploymentName: deployment.name,
        payload: { deployment_name: deployment.name, format: 'full', instance_details: true },
      });
    }
    return (await instanceRows(db, deployment.id, 'instances')).map(({ active: _, ...instance }) => instance);
  });

  app.post<{ Params: Params & { errand: string }; Body: Record<string, unknown> | undefined }>(
    '/deployments/:name/errands/:errand/runs',
    async (request, reply) => {
      const deployment = await findDeployment(db, request.params.name);
      const body = request.body ?? {};
      const { errand } = request.params;
      return enqueueTask(ctx, request, reply, {
        type: 'run_errand',
        description: `run errand ${errand} from deployment ${deployment.name}`,
        deploymentName: deployment.name,
        payload: {
          deployment_name: deployment.name,
          errand_name: errand,
          keep_alive: body['keep-alive'] === true,
          when_changed: body['when-changed'] === true,
          instances: Array.isArray(body.instances) ? body.instances : [],
        },
      });
    },
  );
}

async function findDeployment(db: Kysely<Database>, name: string) {
  const deployment = await db.selectFrom('deployments').selectAll().where('name', '=', name).executeTakeFirst();
  if (!deployment) throw notFound(`Deployment '${name}' doesn't exist`, 70000);
  return deployment;
}

function manifestName(text: string): string {
  let manifest: unknown;
  try {
    manifest = parseYaml(text);
  } catch (err) {
    throw badRequest(`Incorrect YAML structure of the uploaded manifest: ${(err as Error).message}`, 440001);
  }
  const name = (manifest as { name?: unknown } | null)?.name;
  if (typeof name !== 'string' || name === '') throw badRequest('Deployment manifest must have a name', 440001);
  return name;
}

function parseContext(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest(`Invalid context '${text}'`, 190025);
  }
}

/** The deployment row exists (name only) before its first deploy task runs, as in BOSH. */
async function ensureDeploymentRow(db: Kysely<Database>, name: string): Promise<void> {
  const existing = await db.selectFrom('deployments').select('id').where('name', '=', name).executeTakeFirst();
  if (existing) return;
  try {
    await db.insertInto('deployments').values({ name, manifest_text: null, cloud_config_id: null }).execute();
  } catch (err) {
    // Two deploys of a new deployment at once: the other request created the row.
    if (!(await db.selectFrom('deployments').select('id').where('name', '=', name).executeTakeFirst())) throw err;
  }
}

/** One line per instance; with `vms`, only instances that have a VM (director-api.md §2.3). */
async function instanceRows(db: Kysely<Database>, deploymentId: number, what: 'vms' | 'instances') {
  const instances = await db
    .selectFrom('instances')
    .selectAll()
    .where('deployment_id', '=', deploymentId)
    .where('compilation', '=', 0)
    .orderBy('job')
    .orderBy('index')
    .execute();
  const ids = [0, ...instances.map((i) => i.id)];
  const vms = await db.selectFrom('vms').selectAll().where('instance_id', 'in', ids).execute();
  const ips = await db.selectFrom('ip_addresses').select(['instance_id', 'address_str']).where('instance_id', 'in', ids).execute();
  return instances.flatMap((instance) => {
    const vm = vms.find((v) => v.instance_id === instance.id && v.active === 1) ?? vms.find((v) => v.instance_id === instance.id);
    if (what === 'vms' && !vm) return [];
    return [{
      agent_id: vm?.agent_id ?? null,
      cid: vm?.cid ?? null,
      job: instance.job,
      index: instance.index,
      id: instance.uuid,
      az: instance.availability_zone,
      ips: ips.filter((ip) => ip.instance_id === instance.id).map((ip) => ip.address_str),
      vm_created_at: vm?.created_at ?? null,
      active: vm ? vm.active === 1 : false,
      expects_vm: instance.state !== 'detached',
    }];
  });
}

async function listDeployments(db: Kysely<Database>, query: Record<string, string | undefined>) {
  const deployments = await db.selectFrom('deployments').selectAll().orderBy('name').execute();
  const releases = await db
    .selectFrom('deployments_release_versions')
    .innerJoin('release_versions', 'release_versions.id', 'deployments_release_versions.release_version_id')
    .innerJoin('releases', 'releases.id', 'release_versions.release_id')
    .select(['deployments_release_versions.deployment_id', 'releases.name', 'release_versions.version'])
    .execute();
  const stemcells = await db
    .selectFrom('deployments_stemcells')
    .innerJoin('stemcells', 'stemcells.id', 'deployments_stemcells.stemcell_id')
    .select(['deployments_stemcells.deployment_id', 'stemcells.name', 'stemcells.version'])
    .execute();
  const latestCloud = await latestConfig(db, 'cloud');
  const lockNames = new Set((await db.selectFrom('locks').select('name').where('expired_at', '>=', nowSeconds()).execute()).map((l) => l.name));
  return deployments.map((d) => ({
    name: d.name,
    teams: [],
    ...(flag(query.exclude_configs) ? {} : { cloud_config: d.cloud_config_id === null ? 'none' : d.cloud_config_id === latestCloud?.id ? 'latest' : 'outdated' }),
    ...(flag(query.exclude_releases) ? {} : { releases: releases.filter((r) => r.deployment_id === d.id).map(({ name, version }) => ({ name, version })) }),
    ...(flag(query.exclude_stemcells) ? {} : { stemcells: stemcells.filter((s) => s.deployment_id === d.id).map(({ name, version }) => ({ name, version })) }),
    ...(flag(query.exclude_lock) ? {} : { locked: lockNames.has(deploymentLockName(d.name)) }),
  }));
}

/**
 * The deploy diff against the stored manifest (empty for a new deployment), with the config ids it
 * was computed against: the deploy sends them back as `context`. Failures are reported in the body.
 */
async function deploymentDiff(db: Kysely<Database>, name: string, manifestText: string, redact: boolean) {
  const context = { cloud_config_ids: await latestConfigIds(db, 'cloud'), runtime_config_ids: await latestConfigIds(db, 'runtime') };
  try {
    const stored = await db.selectFrom('deployments').select('manifest_text').where('name', '=', name).executeTakeFirst();
    const diff = manifestDiff(manifestValue(stored?.manifest_text ?? null, 'stored manifest'), manifestValue(manifestText, 'manifest'), redact);
    return { context, diff };
  } catch (err) {
    return { context, diff: [], error: `Unable to diff manifest: ${(err as Error).message}` };
  }
}

/** The id of each name's latest config of the type. */
async function latestConfigIds(db: Kysely<Database>, type: string): Promise<number[]> {
  const rows = await db.selectFrom('configs').select(['id', 'name']).where('type', '=', type).where('deleted', '=', 0).orderBy('id', 'desc').execute();
  const latest = new Map<string, number>();
  for (const row of rows) if (!latest.has(row.name)) latest.set(row.name, row.id);
  return [...latest.values()].sort((a, b) => a - b);
}
