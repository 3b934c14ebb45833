// Blobstore seam: director and agent both talk to blobs through this interface.
import type { Readable } from 'node:stream';

export interface Blobstore {
  /** Stores the file under a new id (or the given one) and returns the id. */
  put(filePath: string, id?: string): Promise<string>;
  /** Writes the blob to destPath. Throws BlobNotFound when missing. */
  get(id: string, destPath: string): Promise<void>;
  getStream(id: string): Promise<Readable>;
  delete(id: string): Promise<void>;
  exists(id: string): Promise<boolean>;
}

export class BlobNotFound extends Error {
  constructor(public readonly id: string) {
    super(`Blob '${id}' not found`);
  }
}
