import { writeFile, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { AgentServices } from '../services.js';
import { bufferDigest, parseMultiDigest, strongestPiece, type DigestAlgorithm } from '../../common/digest.js';
import { isValidBlobId } from '../../blobstore/local.js';
import { objectArg, type Action } from './action.js';

interface UploadBlobSpec {
  blob_id?: string;
  checksum?: string;
  payload?: string;
}

/** Stores a base64 payload (newlines allowed) as sensitive_blobs/<blob_id> after checking its digest (§2.14). */
export class UploadBlobAction implements Action {
  readonly name = 'upload_blob';
  readonly isAsynchronous = true;
  readonly requiredArgs = 1;

  constructor(private readonly services: AgentServices) {}

  async run(args: unknown[]): Promise<string> {
    const spec = objectArg<UploadBlobSpec>(args, 0, 'action.UploadBlobSpec');
    const id = spec.blob_id ?? '';
    if (!isValidBlobId(id)) throw new Error(`Invalid blob id '${id}'`);
    const checksum = spec.checksum ?? '';
    // Node's base64 decoder skips the newlines Ruby's encode64 inserts every 60 characters.
    const data = Buffer.from(spec.payload ?? '', 'base64');
    if (!matches(data, checksum)) throw new Error(`Payload corrupted. Checksum mismatch. Expected '${checksum}'`);
    const dir = this.services.paths.sensitiveBlobs;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = join(dir, `.upload-${randomUUID()}`);
    try {
      await writeFile(tmp, data, { mode: 0o640 });
      await rename(tmp, join(dir, id));
    } finally {
      await rm(tmp, { force: true });
    }
    return id;
  }
}

function matches(data: Buffer, checksum: string): boolean {
  try {
    const piece = strongestPiece(parseMultiDigest(checksum));
    if (!['sha1', 'sha256', 'sha512'].includes(piece.algorithm)) return false;
    return bufferDigest(data, piece.algorithm as DigestAlgorithm) === piece.hex.toLowerCase();
  } catch {
    return false;
  }
}
