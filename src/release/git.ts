// The git state of a release directory, as the bosh CLI records it in release.MF: the commit hash
// (`non-git` outside a repository, `empty` before the first commit) and whether there are local
// modifications — which make create-release and finalize-release fail unless forced.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ReleaseError } from './errors.js';

const exec = promisify(execFile);

export interface GitState {
  commit_hash: string;
  uncommitted_changes: boolean;
}

async function git(dir: string, args: string[]): Promise<{ ok: true; stdout: string } | { ok: false; stderr: string }> {
  try {
    const { stdout } = await exec('git', ['-C', dir, ...args]);
    return { ok: true, stdout };
  } catch (err) {
    return { ok: false, stderr: String((err as { stderr?: unknown }).stderr ?? (err as Error).message) };
  }
}

/**
 * Reads the commit and the modifications under `dir` (limited to the release directory, so a release
 * kept inside a larger repository only counts its own changes). With `force` false, modifications are an
 * error listing them, as bosh's "Git repository has local modifications".
 */
export async function releaseGitState(dir: string, force: boolean): Promise<GitState> {
  const inside = await git(dir, ['rev-parse', '--is-inside-work-tree']);
  if (!inside.ok || inside.stdout.trim() !== 'true') return { commit_hash: 'non-git', uncommitted_changes: false };
  const head = await git(dir, ['rev-parse', '--short=8', 'HEAD']);
  const commit_hash = head.ok ? head.stdout.trim() : 'empty';
  const status = await git(dir, ['status', '--porcelain=1', '--', '.']);
  if (!status.ok) throw new ReleaseError(`Checking the git status of '${dir}': ${status.stderr.trim()}`);
  const changes = status.stdout.trimEnd();
  if (changes.length > 0 && !force) {
    throw new ReleaseError(`Git repository has local modifications:\n\n${changes}\n\nCommit them, or pass --force to build anyway`);
  }
  return { commit_hash, uncommitted_changes: changes.length > 0 };
}
