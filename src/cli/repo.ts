// The repository root (bin/, src/, dist/, scripts/): the nearest directory above this file
// with Capstan's package.json (this file runs from src/cli/ or bundled in dist/).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && /"name":\s*"capstan"/.test(readFileSync(pkg, 'utf8'))) return dir;
    if (dirname(dir) === dir) return resolve(start, '../..');
  }
}

export const REPO_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));
