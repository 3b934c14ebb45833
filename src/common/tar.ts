// Tarballs: safe extraction of untrusted archives and deterministic creation.
import { mkdir, readdir, lstat } from 'node:fs/promises';
import { posix, join, basename } from 'node:path';
import * as tar from 'tar';

export class UnsafeArchiveError extends Error {
  constructor(
    public readonly archive: string,
    public readonly entry: string,
    reason: string,
  ) {
    super(`Refusing to extract '${basename(archive)}': entry '${entry}' ${reason}`);
    this.name = 'UnsafeArchiveError';
  }
}

export interface SafeExtractOptions {
  /** Only extract entries for which this returns true (paths as stored, `./` removed). */
  filter?: (path: string) => boolean;
  /**
   * Allow symlinks to absolute or outside targets (compiled packages link into /var/vcap/packages).
   * Entries written through any symlink are still refused, so extraction stays inside destDir.
   */
  externalSymlinks?: boolean;
}

/** Why an entry would write outside the destination, or null when it is safe. */
function entryProblem(path: string, type: string, linkpath: string | undefined, externalSymlinks = false): string | null {
  if (path.startsWith('/') || /^[a-zA-Z]:[\\/]/.test(path)) return 'has an absolute path';
  if (path.split(/[\\/]/).includes('..')) return "has a '..' path segment";
  // releases and stemcells carry files, directories and links only (issue 9: devices are refused)
  if (type === 'CharacterDevice' || type === 'BlockDevice') return 'is a device file';
  if (type === 'FIFO') return 'is a FIFO';
  // node-tar (7.5) waits forever on a link whose target, as it locks it, is one of the link's own
  // parent directories (e.g. 'a/b' -> 'x/../a'); such archives are refused instead of hanging.
  if ((type === 'SymbolicLink' || type === 'Link') && linksToOwnParent(path, linkpath ?? '')) {
    return `is a link to one of its own parent directories ('${linkpath}')`;
  }
  if (type === 'SymbolicLink' && externalSymlinks) return null;
  if (type === 'SymbolicLink' || type === 'Link') {
    const target = linkpath ?? '';
    if (target.startsWith('/')) return `is a link to the absolute path '${target}'`;
    // symlinks resolve against their own directory, hard links against the archive root
    const base = type === 'SymbolicLink' ? posix.dirname(posix.normalize(path)) : '.';
    const resolved = posix.normalize(posix.join(base, target));
    if (resolved === '..' || resolved.startsWith('../')) return `is a link escaping the destination ('${target}')`;
  }
  return null;
}

function linksToOwnParent(path: string, target: string): boolean {
  const locked = posix.join(target.normalize('NFD')).replace(/(.)\/+$/, '$1');
  const parts = posix.normalize(stripDot(path.normalize('NFD'))).replace(/\/$/, '').split('/').slice(0, -1);
  return parts.some((_, i) => parts.slice(0, i + 1).join('/') === locked);
}

function stripDot(path: string): string {
  return path.replace(/^(\.\/)+/, '');
}

/**
 * Extracts a (gzipped) tarball into destDir. Every entry is checked first; an entry with an absolute
 * path, a `..` segment or a link pointing outside destDir makes the whole extraction fail.
 */
export async function safeExtract(tgzPath: string, destDir: string, options: SafeExtractOptions = {}): Promise<void> {
  let problem: UnsafeArchiveError | null = null;
  const symlinks: string[] = [];
  await tar.t({
    file: tgzPath,
    strict: true,
    onReadEntry: (entry) => {
      if (problem) return;
      const path = posix.normalize(stripDot(entry.path)).replace(/\/$/, '');
      // writing through a symlink the archive itself made could land anywhere
      const through = symlinks.find((link) => path.startsWith(`${link}/`));
      const reason = through ? `goes through the symlink entry '${through}'` : entryProblem(entry.path, entry.type, entry.linkpath, options.externalSymlinks);
      if (reason) problem = new UnsafeArchiveError(tgzPath, entry.path, reason);
      if (entry.type === 'SymbolicLink') symlinks.push(path);
    },
  }).catch((err: Error) => {
    throw new Error(`Reading archive '${basename(tgzPath)}': ${err.message}`);
  });
  if (problem) throw problem;
  await mkdir(destDir, { recursive: true });
  // Entry errors are collected rather than thrown at once: in strict mode node-tar rejects on the
  // first one while it is still writing other entries, so a caller cleaning up after the error
  // would race with late writes. Here the promise settles only when nothing is in flight.
  let entryError: string | undefined;
  await tar.x({
    file: tgzPath,
    cwd: destDir,
    strict: false,
    onwarn: (code, message, data) => {
      if (code !== 'TAR_ENTRY_INFO') entryError ??= data instanceof Error ? message : `${code}: ${message}`;
    },
    // every entry was checked above; node-tar would otherwise strip '/' from absolute link targets
    preservePaths: options.externalSymlinks === true,
    preserveOwner: false,
    filter: options.filter ? (path) => options.filter!(stripDot(path)) : undefined,
  }).catch((err: Error) => {
    entryError ??= err.message;
  });
  if (entryError !== undefined) throw new Error(`Extracting archive '${basename(tgzPath)}': ${entryError}`);
}

/** Every file, directory and symlink below dir, relative and sorted. */
export async function listTree(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(join(dir, prefix))).sort()) {
    const rel = prefix ? `${prefix}/${name}` : name;
    out.push(rel);
    if ((await lstat(join(dir, rel))).isDirectory()) out.push(...(await listTree(dir, rel)));
  }
  return out;
}

const FIXED_MTIME = new Date('1980-01-01T00:00:00Z');

/**
 * Writes a gzipped tarball of srcDir (or of the given entries, relative to srcDir, with no directory
 * recursion) so that the same inputs always give the same bytes: sorted entries, fixed mtime, no
 * owner names or ids.
 */
export async function createTgz(srcDir: string, destFile: string, entries?: string[]): Promise<void> {
  const list = [...(entries ?? (await listTree(srcDir)))].sort();
  await tar.c(
    {
      file: destFile,
      cwd: srcDir,
      gzip: { portable: true } as tar.TarOptionsWithAliasesAsyncFile['gzip'],
      portable: true,
      mtime: FIXED_MTIME,
      noDirRecurse: true,
      follow: false,
    },
    list,
  );
}
