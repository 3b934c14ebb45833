// The apply spec as the agent keeps it (§5.1): only the modelled fields are persisted in
// /var/vcap/bosh/spec.json and returned by get_state.
import { readFile } from 'node:fs/promises';
import type { ApplySpec, ApplySpecJob, ApplySpecPackage } from '../../common/protocol.js';
import { writeFileAtomic } from '../platform/layout.js';

export interface SpecJob {
  name: string;
  version: string;
}

function pickDefined<T extends object>(source: T, keys: Array<keyof T>): Partial<T> {
  const out: Partial<T> = {};
  for (const key of keys) if (source[key] !== undefined) out[key] = source[key];
  return out;
}

function persistedJob(job: ApplySpec['job']): ApplySpec['job'] {
  if (!job || !('name' in job)) return job;
  const picked = pickDefined(job as ApplySpecJob, ['name', 'release', 'template', 'version']) as ApplySpecJob;
  return { ...picked, templates: (job.templates ?? []).map((t) => ({ name: t.name, version: t.version })) };
}

function persistedPackages(packages: ApplySpec['packages']): ApplySpec['packages'] {
  if (!packages) return packages;
  const out: Record<string, ApplySpecPackage> = {};
  for (const [key, pkg] of Object.entries(packages)) {
    out[key] = pickDefined(pkg, ['name', 'version', 'sha1', 'blobstore_id', 'signed_url', 'blobstore_headers']) as ApplySpecPackage;
  }
  return out;
}

export function toPersistedSpec(spec: ApplySpec): ApplySpec {
  const out = pickDefined(spec, [
    'deployment',
    'name',
    'index',
    'id',
    'az',
    'networks',
    'configuration_hash',
    'persistent_disk',
    'resource_pool',
  ]) as ApplySpec;
  const maxLogFileSize = spec.properties?.logging?.max_log_file_size;
  if (maxLogFileSize !== undefined) out.properties = { logging: { max_log_file_size: maxLogFileSize } };
  if (spec.job !== undefined) out.job = persistedJob(spec.job);
  if (spec.packages !== undefined) out.packages = persistedPackages(spec.packages);
  if (spec.rendered_templates_archive) {
    const { sha1, blobstore_id } = spec.rendered_templates_archive;
    out.rendered_templates_archive = { sha1, blobstore_id };
  }
  return out;
}

/** Jobs of a spec in order (`job.templates`); a jobless spec (`job: {}`) has none. */
export function specJobs(spec: Partial<ApplySpec>): SpecJob[] {
  const job = spec.job;
  if (!job || !('templates' in job) || !Array.isArray(job.templates)) return [];
  return job.templates.map((t) => ({ name: t.name, version: t.version }));
}

export class SpecStore {
  constructor(private readonly path: string) {}

  /** The current spec; an empty object before the first apply. */
  async read(): Promise<Partial<ApplySpec>> {
    try {
      return JSON.parse(await readFile(this.path, 'utf8')) as Partial<ApplySpec>;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new Error(`Reading spec '${this.path}': ${(err as Error).message}`);
    }
  }

  async write(spec: ApplySpec): Promise<void> {
    await writeFileAtomic(this.path, JSON.stringify(spec), 0o644);
  }
}
