// Multi-digest strings (agent-protocol.md §7.2/§7.3): "sha1hex;sha256:hex;sha512:hex".
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export type DigestAlgorithm = 'sha1' | 'sha256' | 'sha512';
const STRENGTH: DigestAlgorithm[] = ['sha512', 'sha256', 'sha1'];

export interface DigestPiece {
  algorithm: string;
  hex: string;
}

export function parseMultiDigest(text: string): DigestPiece[] {
  const pieces: DigestPiece[] = [];
  for (const raw of text.split(';')) {
    const part = raw.trim();
    if (!part) continue;
    const [algorithm, hex] = part.includes(':') ? part.split(':', 2) : ['sha1', part];
    if (!/^[a-z0-9]+$/i.test(algorithm) || !/^[a-z0-9]+$/i.test(hex)) throw new Error(`Invalid digest '${text}'`);
    if (pieces.some((p) => p.algorithm === algorithm)) throw new Error(`Duplicate digest algorithm '${algorithm}' in '${text}'`);
    pieces.push({ algorithm, hex });
  }
  if (pieces.length === 0) throw new Error(`Empty digest '${text}'`);
  return pieces;
}

export function formatMultiDigest(pieces: DigestPiece[]): string {
  return pieces.map((p) => (p.algorithm === 'sha1' ? p.hex : `${p.algorithm}:${p.hex}`)).join(';');
}

export function strongestPiece(pieces: DigestPiece[]): DigestPiece {
  for (const algorithm of STRENGTH) {
    const found = pieces.find((p) => p.algorithm === algorithm);
    if (found) return found;
  }
  return pieces[0];
}

export async function fileDigest(path: string, algorithm: DigestAlgorithm = 'sha1'): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function bufferDigest(data: Buffer | string, algorithm: DigestAlgorithm = 'sha1'): string {
  return createHash(algorithm).update(data).digest('hex');
}

/** Verifies a file against a multi-digest using its strongest known algorithm. */
export async function verifyFileDigest(path: string, expected: string): Promise<void> {
  const piece = strongestPiece(parseMultiDigest(expected));
  if (!STRENGTH.includes(piece.algorithm as DigestAlgorithm)) {
    throw new Error(`No digest algorithm found that is supported in '${expected}'`);
  }
  const actual = await fileDigest(path, piece.algorithm as DigestAlgorithm);
  if (actual !== piece.hex.toLowerCase()) {
    const got = piece.algorithm === 'sha1' ? actual : `${piece.algorithm}:${actual}`;
    const exp = piece.algorithm === 'sha1' ? piece.hex : `${piece.algorithm}:${piece.hex}`;
    throw new Error(`Expected stream to have digest '${exp}' but was '${got}'`);
  }
}
