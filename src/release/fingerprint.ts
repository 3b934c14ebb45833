// Deterministic fingerprints: sha1 over the sorted (path, content digest, mode) of a job's or package's
// files plus, for packages, the sorted dependency names. Same inputs, same fingerprint, on any machine.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { bufferDigest, fileDigest } from '../common/digest.js';

export interface FingerprintFile {
  /** path as archived */
  path: string;
  /** absolute path on disk */
  source: string;
}

async function fileLine(file: FingerprintFile): Promise<string> {
  const mode = (await stat(file.source)).mode & 0o111 ? '755' : '644';
  return `${file.path}\0${await fileDigest(file.source)}\0${mode}\n`;
}

export async function fingerprint(files: FingerprintFile[], dependencies: string[] = []): Promise<string> {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const lines: string[] = [];
  for (const file of sorted) lines.push(await fileLine(file));
  lines.push(`dependencies\0${[...dependencies].sort().join(',')}\n`);
  return bufferDigest(lines.join(''));
}

export const under = (dir: string, path: string): FingerprintFile => ({ path, source: join(dir, path) });
