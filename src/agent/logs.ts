// The logs tarball of fetch_logs / fetch_logs_with_signed_url / bundle_logs (agent-protocol.md §2.11):
// regular files matching doublestar globs, copied to a staging dir and `tar -czf`'d.
import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { VcapPaths } from './platform/paths.js';
import { exists, runTar } from './applier/installer.js';

/** A doublestar glob as a regular expression over `/`-separated relative paths. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      const slash = glob[i + 2] === '/';
      re += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '{') {
      const end = glob.indexOf('}', i);
      if (end < 0) re += '\\{';
      else {
        re += `(?:${glob.slice(i + 1, end).split(',').map((alt) => globToRegExp(alt).source.slice(1, -1)).join('|')})`;
        i = end;
      }
    } else if (c === '[') {
      const end = glob.indexOf(']', i);
      if (end < 0) re += '\\[';
      else {
        re += `[${glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^$()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

async function walk(root: string, rel = ''): Promise<Array<{ rel: string; isDir: boolean }>> {
  const out: Array<{ rel: string; isDir: boolean }> = [];
  const entries = await readdir(join(root, rel), { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const path = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      out.push({ rel: path, isDir: true }, ...(await walk(root, path)));
    } else if (entry.isFile()) out.push({ rel: path, isDir: false });
  }
  return out;
}

/** Relative paths of the regular files under root matching the filters (null/empty = everything). */
export async function matchLogFiles(root: string, filters: string[] | null | undefined): Promise<string[]> {
  const entries = await walk(root);
  const dirs = new Set(entries.filter((e) => e.isDir).map((e) => e.rel));
  const globs = (filters && filters.length > 0 ? filters : ['**/*']).map((f) => f.replace(/^\.?\/+/, '').replace(/\/+$/, ''));
  // A filter naming a directory means everything below it.
  const patterns = globs.map((g) => globToRegExp(dirs.has(g) ? `${g}/**/*` : g));
  return entries.filter((e) => !e.isDir && patterns.some((p) => p.test(e.rel))).map((e) => e.rel);
}

export class LogTypeError extends Error {}

/** Builds the tarball in the agent's tmp dir; the caller removes it. */
export async function buildLogsTarball(paths: VcapPaths, logTypes: string, filters: string[] | null | undefined, outDir = paths.tmp): Promise<string> {
  const sources: Record<string, { dir: string; under: string }> = {
    job: { dir: paths.sysLog, under: '.' },
    agent: { dir: paths.boshLog, under: '.' },
    system: { dir: '/var/log', under: 'var/log' },
  };
  const types = logTypes.split(',').map((t) => t.trim());
  for (const type of types) if (!Object.hasOwn(sources, type)) throw new LogTypeError('Invalid log type');
  await mkdir(paths.tmp, { recursive: true });
  await mkdir(outDir, { recursive: true });
  const staging = await mkdtemp(join(paths.tmp, 'logs-'));
  const tarball = join(outDir, `logs-${Date.now()}-${Math.random().toString(16).slice(2, 8)}.tgz`);
  try {
    for (const type of types) {
      const { dir, under } = sources[type];
      if (!(await exists(dir))) continue;
      for (const rel of await matchLogFiles(dir, filters)) {
        const dest = join(staging, under, rel);
        await mkdir(dirname(dest), { recursive: true });
        await copyFile(join(dir, rel), dest).catch(() => undefined); // a log rotated away meanwhile
      }
    }
    await runTar(['-czf', tarball, '-C', staging, '.']);
    return tarball;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
