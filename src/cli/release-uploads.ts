// Uploading releases: upload-release (a tarball as the raw body, or a URL the director fetches), and
// deploy's uploads of the manifest's releases that carry a `url` (bosh v7): file:// tarballs are sent
// by the CLI, http(s) URLs as `POST /releases {location, sha1}`, and `version: create` with
// `url: file://<release dir>` creates a dev release from that directory first.
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError, type CliContext } from './context.js';
import type { DirectorClient } from './director-client.js';
import { progressBar } from './renderers/progress.js';

/** A source release is uploaded when every package of that version has a blob (director-api §2.7). */
export async function releaseUploaded(director: DirectorClient, name: string, version: string): Promise<boolean> {
  const res = await director.raw('GET', `/releases/${encodeURIComponent(name)}`, { query: { version } });
  if (res.status !== 200) return false;
  try {
    const release = JSON.parse(res.body.toString('utf8')) as { packages?: Array<{ blobstore_id?: string }> };
    return (release.packages ?? []).every((p) => !!p.blobstore_id);
  } catch {
    return false;
  }
}

/** Uploads a release tarball as the raw request body unless the director has that version (or `fix`). */
export async function uploadReleaseFile(ctx: CliContext, director: DirectorClient, path: string, fix = false): Promise<void> {
  const tarball = resolve(path);
  if (!existsSync(tarball)) throw new CliError(`Release '${path}' does not exist`);
  const { readTarEntry } = await import('./tarball-manifest.js');
  const { parse } = await import('yaml');
  const mf = await readTarEntry(tarball, 'release.MF').catch(() => undefined);
  if (!mf) throw new CliError(`Invalid release '${path}': release.MF not found`);
  const { name, version } = parse(mf) as { name: string; version: string | number };
  if (!fix && (await releaseUploaded(director, name, String(version)))) {
    ctx.ui.printLine(`Release '${name}/${version}' already exists.`);
    return;
  }
  await director.runTask(
    'POST',
    '/releases',
    {
      body: { file: tarball },
      contentType: 'application/x-compressed',
      query: { fix: fix ? 'true' : undefined },
      progress: progressBar('Uploading release', !!ctx.options.json),
    },
    ctx.taskReporter(),
  );
}

export interface UrlUpload {
  sha1?: string;
  name?: string;
  version?: string;
  fix?: boolean;
}

/** Has the director fetch a release from a URL; skipped when name and version are given and it has them. */
export async function uploadReleaseUrl(ctx: CliContext, director: DirectorClient, url: string, opts: UrlUpload = {}): Promise<void> {
  if (!opts.fix && opts.name && opts.version && (await releaseUploaded(director, opts.name, opts.version))) {
    ctx.ui.printLine(`Release '${opts.name}/${opts.version}' already exists.`);
    return;
  }
  await director.runTask(
    'POST',
    '/releases',
    { body: JSON.stringify({ location: url, ...(opts.sha1 ? { sha1: opts.sha1 } : {}) }), contentType: 'application/json', query: { fix: opts.fix ? 'true' : undefined } },
    ctx.taskReporter(),
  );
}

interface ManifestRelease {
  name?: unknown;
  version?: unknown;
  url?: unknown;
  sha1?: unknown;
}

/** The path of a file:// URL (upload-release, upload-stemcell and manifest release urls). */
export function localPath(url: string, what: string): string {
  try {
    return fileURLToPath(url);
  } catch {
    throw new CliError(`Expected ${what} url '${url}' to be a file:// URL`);
  }
}

/**
 * Uploads the releases of a deployment manifest (or runtime config) that name a `url` and that the
 * director lacks (all of them with `fix`, bosh's --fix-releases), and returns the manifest to send:
 * unchanged, or (after `version: create`) with the created versions.
 */
export async function uploadManifestReleases(ctx: CliContext, director: DirectorClient, manifestText: string, fix = false): Promise<string> {
  const { parseDocument } = await import('yaml');
  const doc = parseDocument(manifestText, { version: '1.1' });
  const releases = (doc.toJS() as { releases?: ManifestRelease[] } | null)?.releases;
  if (!Array.isArray(releases)) return manifestText;
  let changed = false;
  for (const [index, release] of releases.entries()) {
    if (typeof release?.url !== 'string' || typeof release.name !== 'string') continue;
    const what = `release '${release.name}'`;
    const version = release.version === undefined ? undefined : String(release.version);
    const sha1 = typeof release.sha1 === 'string' ? release.sha1 : undefined;
    if (version === 'create') {
      const created = await createFromDirectory(ctx, director, release.name, localPath(release.url, what));
      doc.setIn(['releases', index, 'version'], created);
      doc.deleteIn(['releases', index, 'url']);
      doc.deleteIn(['releases', index, 'sha1']);
      changed = true;
      continue;
    }
    if (!fix && version && version !== 'latest' && (await releaseUploaded(director, release.name, version))) continue;
    if (release.url.startsWith('file://')) await uploadReleaseFile(ctx, director, localPath(release.url, what), fix);
    else if (/^https?:\/\//.test(release.url)) await uploadReleaseUrl(ctx, director, release.url, { sha1, fix });
    else throw new CliError(`Expected ${what} url '${release.url}' to be a file://, http:// or https:// URL`);
  }
  return changed ? doc.toString() : manifestText;
}

/** `version: create`: a dev release (timestamp version, as bosh) of the directory, uploaded; returns its version. */
async function createFromDirectory(ctx: CliContext, director: DirectorClient, name: string, dir: string): Promise<string> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new CliError(`Expected release '${name}' url to name a release directory, but '${dir}' is not one`);
  const { createRelease } = await import('../release/create.js');
  const created = await createRelease(dir, { name, timestamp_version: true, force: true });
  ctx.ui.printLine(`Created release '${name}/${created.manifest.version}' from '${dir}'`);
  await uploadReleaseFile(ctx, director, created.tarballPath);
  return created.manifest.version;
}
