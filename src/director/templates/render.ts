// Rendering the jobs of one instance (director-api.md §7): property filtering against job.MF,
// ERB through the Ruby worker, aggregated error texts, configuration_hash and template_hashes.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { JobManifest } from '../../release/types.js';
import type { RubyTemplateWorker } from './ruby-worker.js';

/** A job as the renderer needs it: job.MF plus the directory its archive was extracted to. */
export interface JobSource {
  name: string;
  version: string;
  release: { name: string; version: string };
  manifest: JobManifest;
  /** Holds `monit` and `templates/<src>` (layout of readJobArchive). */
  dir: string;
}

export interface RenderedFile {
  src: string;
  dest: string;
  content: string;
}

export interface RenderedJob {
  name: string;
  monit: string;
  files: RenderedFile[];
}

export interface RenderedInstance {
  jobs: RenderedJob[];
  configurationHash: string;
  templateHashes: Record<string, string>;
}

/** A job of an instance group with the properties the manifest gives it (job-level, else merged). */
export interface InstanceJob {
  source: JobSource;
  properties: Record<string, unknown>;
  /** Consumed links by name (links.ts LinkContent), for link() / if_link(). */
  links?: Record<string, unknown>;
}

/**
 * Keeps only the properties job.MF declares: manifest value, else the spec default, else null,
 * nested by the dotted name (`nginx.port` -> {nginx: {port}}).
 */
export function filterJobProperties(manifest: JobManifest, values: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(manifest.properties ?? {})) {
    const given = lookupDotted(values, name);
    const value = given !== undefined && given !== null ? given : (spec?.default ?? null);
    setDotted(result, name, structuredClone(value));
  }
  return result;
}

export function lookupDotted(values: Record<string, unknown>, name: string): unknown {
  let current: unknown = values;
  for (const key of name.split('.')) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function setDotted(target: Record<string, unknown>, name: string, value: unknown): void {
  const keys = name.split('.');
  let current = target;
  for (const key of keys.slice(0, -1)) {
    const next = current[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) current[key] = {};
    current = current[key] as Record<string, unknown>;
  }
  current[keys[keys.length - 1]] = value;
}

/** Renders every template (and the monit file) of one job; collects all template errors. */
export async function renderJob(
  worker: RubyTemplateWorker,
  job: InstanceJob,
  instanceSpec: Record<string, unknown>,
): Promise<RenderedJob> {
  const { source } = job;
  const spec = {
    ...instanceSpec,
    properties: filterJobProperties(source.manifest, job.properties),
    release: source.release,
    links: job.links ?? {},
  };
  const errors: string[] = [];
  const render = async (file: string, path: string) => {
    const template = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' && file === 'monit') return ''; // a job may ship only <name>.monit files
      throw err;
    });
    return worker.render({ file, template, spec }).catch((err: Error) => {
      errors.push(err.message);
      return '';
    });
  };
  const monit = await render('monit', join(source.dir, 'monit'));
  const files: RenderedFile[] = [];
  for (const [src, dest] of Object.entries(source.manifest.templates ?? {})) {
    files.push({ src, dest, content: await render(src, join(source.dir, 'templates', src)) });
  }
  if (errors.length > 0) throw new Error(nestErrors(`Unable to render templates for job '${source.name}'`, errors));
  return { name: source.name, monit, files };
}

/** Renders all jobs of an instance; the error names the instance group and every failing job. */
export async function renderInstance(
  worker: RubyTemplateWorker,
  instanceGroup: string,
  jobs: InstanceJob[],
  instanceSpec: Record<string, unknown>,
): Promise<RenderedInstance> {
  const results = await Promise.allSettled(jobs.map((job) => renderJob(worker, job, instanceSpec)));
  const errors = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
  if (errors.length > 0) throw new Error(nestErrors(`Unable to render jobs for instance group '${instanceGroup}'`, errors));
  const rendered = results.map((r) => (r as PromiseFulfilledResult<RenderedJob>).value);
  return { jobs: rendered, configurationHash: configurationHash(rendered), templateHashes: templateHashes(rendered) };
}

/** "<title>. Errors are:\n  - a\n  - b", nesting deeper messages by two spaces (BOSH's layout). */
export function nestErrors(title: string, errors: string[]): string {
  const items = errors.map((e) => '  - ' + e.split('\n').join('\n  '));
  return `${title}. Errors are:\n${items.join('\n')}`;
}

const bySrc = (a: RenderedFile, b: RenderedFile) => (a.src < b.src ? -1 : a.src > b.src ? 1 : 0);

/** SHA1 over, for jobs sorted by name: monit + name + (templates by src) content + dest (§7.3). */
export function configurationHash(jobs: RenderedJob[]): string {
  const hash = createHash('sha1');
  for (const job of [...jobs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    hash.update(job.monit);
    hash.update(job.name);
    for (const file of [...job.files].sort(bySrc)) {
      hash.update(file.content);
      hash.update(file.dest);
    }
  }
  return hash.digest('hex');
}

/** {job: sha1(monit + contents sorted by src)} (§7.3). */
export function templateHashes(jobs: RenderedJob[]): Record<string, string> {
  const result: Record<string, string> = {};
  for (const job of jobs) {
    const hash = createHash('sha1').update(job.monit);
    for (const file of [...job.files].sort(bySrc)) hash.update(file.content);
    result[job.name] = hash.digest('hex');
  }
  return result;
}
