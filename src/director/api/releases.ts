// Releases (director-api.md §2.7): upload (raw tarball body, or JSON {location, sha1} -> update_release task), list, inspect, delete.
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { parse as parseYaml } from 'yaml';
import { badRequest, notFound } from '../../common/errors.js';
import { enqueueTask, flag, isRawUpload, saveUpload, type ApiContext } from './helpers.js';
import { compareReleaseVersions } from './versions.js';

export async function releaseRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { db } = ctx.director;

  app.post<{ Querystring: { rebase?: string; fix?: string } }>('/releases', async (request, reply) => {
    const options = { rebase: flag(request.query.rebase), fix: flag(request.query.fix) };
    if (!isRawUpload(request)) {
      // {location, sha1}: the task downloads the tarball (http or https) to a spool path
      const { location, sha1 } = (request.body ?? {}) as { location?: unknown; sha1?: unknown };
      if (typeof location !== 'string' || !/^https?:\/\//.test(location)) throw badRequest('Expected a release tarball body or JSON {"location": "<http(s) URL>", "sha1": "<digest>"}');
      const releasePath = join(ctx.director.config.base_dir, 'tmp', `release-${randomUUID()}.tgz`);
      await mkdir(dirname(releasePath), { recursive: true });
      return enqueueTask(ctx, request, reply, {
        type: 'update_release',
        description: 'create release',
        payload: { release_path: releasePath, location, ...(typeof sha1 === 'string' && sha1 ? { sha1 } : {}), ...options },
      });
    }
    const releasePath = await saveUpload(ctx.director, request.body as Readable, 'release');
    return enqueueTask(ctx, request, reply, {
      type: 'update_release',
      description: 'create release',
      payload: { release_path: releasePath, ...options },
    });
  });

  app.get('/releases', async () => {
    const releases = await db.selectFrom('releases').selectAll().orderBy('name').execute();
    const versions = await db.selectFrom('release_versions').selectAll().execute();
    const deployed = new Set((await db.selectFrom('deployments_release_versions').select('release_version_id').execute()).map((r) => r.release_version_id));
    const jobs = await db
      .selectFrom('release_versions_templates')
      .innerJoin('templates', 'templates.id', 'release_versions_templates.template_id')
      .select(['release_versions_templates.release_version_id', 'templates.name'])
      .execute();
    return releases.map((release) => ({
      name: release.name,
      release_versions: versions
        .filter((v) => v.release_id === release.id)
        .sort((a, b) => compareReleaseVersions(a.version, b.version))
        .map((v) => ({
          version: v.version,
          commit_hash: v.commit_hash ?? '',
          uncommitted_changes: v.uncommitted_changes === 1,
          currently_deployed: deployed.has(v.id),
          job_names: jobs.filter((j) => j.release_version_id === v.id).map((j) => j.name).sort(),
        })),
    }));
  });

  app.get<{ Params: { name: string }; Querystring: { version?: string } }>('/releases/:name', async (request) => {
    const release = await db.selectFrom('releases').selectAll().where('name', '=', request.params.name).executeTakeFirst();
    if (!release) throw notFound(`Release '${request.params.name}' doesn't exist`, 30005);
    const { version } = request.query;
    if (!version) {
      const versions = await db.selectFrom('release_versions').select('version').where('release_id', '=', release.id).execute();
      return { versions: versions.map((v) => v.version).sort(compareReleaseVersions) };
    }
    const rv = await db.selectFrom('release_versions').selectAll().where('release_id', '=', release.id).where('version', '=', version).executeTakeFirst();
    if (!rv) throw notFound(`Release version '${release.name}/${version}' doesn't exist`, 30006);
    const jobs = await db
      .selectFrom('templates')
      .innerJoin('release_versions_templates', 'release_versions_templates.template_id', 'templates.id')
      .selectAll('templates')
      .where('release_versions_templates.release_version_id', '=', rv.id)
      .execute();
    const packages = await db
      .selectFrom('packages')
      .innerJoin('packages_release_versions', 'packages_release_versions.package_id', 'packages.id')
      .selectAll('packages')
      .where('packages_release_versions.release_version_id', '=', rv.id)
      .execute();
    const compiled = await db.selectFrom('compiled_packages').selectAll().where('package_id', 'in', [0, ...packages.map((p) => p.id)]).execute();
    return {
      jobs: jobs.map((j) => {
        const spec = JSON.parse(j.spec_json) as { consumes?: unknown[]; provides?: unknown[] };
        return { name: j.name, blobstore_id: j.blobstore_id, sha1: j.sha1, fingerprint: j.fingerprint, consumes: spec.consumes ?? [], provides: spec.provides ?? [] };
      }),
      packages: packages.map((p) => ({
        name: p.name,
        blobstore_id: p.blobstore_id ?? '',
        sha1: p.sha1 ?? '',
        fingerprint: p.fingerprint,
        compiled_packages: compiled
          .filter((c) => c.package_id === p.id)
          .map((c) => ({ stemcell: `${c.stemcell_os}/${c.stemcell_version}`, sha1: c.sha1, blobstore_id: c.blobstore_id })),
      })),
    };
  });

  // The CLI asks which packages it may leave out of its upload; update_release copies those blobs.
  app.post('/packages/matches', async (request) => {
    const fingerprints = manifestFingerprints(request.body);
    if (fingerprints.length === 0) return [];
    const rows = await db
      .selectFrom('packages')
      .select('fingerprint')
      .distinct()
      .where('fingerprint', 'in', fingerprints)
      .where('blobstore_id', 'is not', null)
      .execute();
    return rows.map((r) => r.fingerprint);
  });
  // Compiled releases are not accepted yet, so there is never a compiled package to match.
  app.post('/packages/matches_compiled', async () => []);

  app.delete<{ Params: { name: string }; Querystring: { version?: string; force?: string } }>('/releases/:name', async (request, reply) => {
    const { name } = request.params;
    const release = await db.selectFrom('releases').select('id').where('name', '=', name).executeTakeFirst();
    if (!release) throw notFound(`Release '${name}' doesn't exist`, 30005);
    return enqueueTask(ctx, request, reply, {
      type: 'delete_release',
      description: `delete release: ${name}`,
      payload: { name, version: request.query.version || null, force: flag(request.query.force) },
    });
  });
}

/** Package fingerprints listed in a release.MF posted as YAML text (a bad body just matches nothing). */
function manifestFingerprints(body: unknown): string[] {
  let manifest: unknown;
  try {
    manifest = typeof body === 'string' ? parseYaml(body) : body;
  } catch {
    return [];
  }
  const packages = (manifest as { packages?: unknown } | null)?.packages;
  if (!Array.isArray(packages)) return [];
  return packages.map((p) => (p as { fingerprint?: unknown })?.fingerprint).filter((f): f is string => typeof f === 'string');
}
