// The agent bundle every stemcell and dummy VM runs: dist/capstan-agent.cjs, made by scripts/build-agent.mjs.
import { execFile } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const AGENT_BUNDLE_PATH = resolve(repoRoot, 'dist/capstan-agent.cjs');

/** Rebuilds the bundle from src/agent (about a second) so a stemcell never carries a stale agent. */
export async function buildAgentBundle(outfile = AGENT_BUNDLE_PATH): Promise<string> {
  try {
    await promisify(execFile)(process.execPath, [resolve(repoRoot, 'scripts/build-agent.mjs'), '--outfile', outfile], { cwd: repoRoot });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`Building the agent bundle failed: ${stderr || (err as Error).message}`);
  }
  return outfile;
}
